"""`python -m kinora ...`: the same as the `kinora` command."""

import sys

from kinora.cli import main

sys.exit(main())
