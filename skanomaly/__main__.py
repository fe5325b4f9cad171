"""``python -m skanomaly`` runs the command line (see :mod:`skanomaly.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
