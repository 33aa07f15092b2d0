"""`python -m kinora.train ...` (and `torchrun -m kinora.train ...`): the same as `kinora train ...`."""

import sys

from kinora.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
