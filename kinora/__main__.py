import sys

from kinora.cli import main

sys.exit(main())
