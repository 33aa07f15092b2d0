"""Film projects: shots, takes, non-destructive edits, the film render (docs/EDITING.md).

project  the document and its folder (revisions, takes, the lock)
edits    one call per operation, each a new take or a new revision
render   the active takes joined into one labeled film
"""
