"""``python -m skanomaly`` runs the command line (see :mod:`skanomaly.cli`)."""

import sys

from .cli import main

sys.exit(main())
