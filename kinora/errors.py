"""User-facing errors.

Everything a user can get wrong (a bad spec file, an absurd duration, an unreadable
video) raises `KinoraError` with one line that names what is wrong and how to fix it.
The CLI prints that line and exits non-zero without a traceback; programming errors
are left as ordinary exceptions so they stay loud.
"""


class KinoraError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2

    def __init__(self, message: str):
        # Keep it to one line: the CLI prints it verbatim after "error: ".
        super().__init__(" ".join(str(message).split()))
