"""Kinora's evaluation: a held-out prompt suite, generators behind one interface, metrics.

    kinora eval --quick                      # the command; see kinora/cli/eval.py
    from kinora.eval.runner import evaluate  # the library

suite.py     the held-out prompt suite (heldout.jsonl) and how it is built
backends.py  generators: the Kinora pipeline, the simulator (oracle), a frozen frame
metrics.py   alignment, permanence, consistency, smoothness, dynamic degree, drift
physics.py   Physics-IQ-style continuation scores, normalised by the simulator itself
runner.py    evaluate(): the loop over the suite and the summary
report.py    markdown tables and PNG plots (PIL), for eval and bench
results.py   docs/RESULTS.md from eval and bench runs
"""
