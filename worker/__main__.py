"""``python -m worker`` runs the ``campaign-sync`` command line."""

import sys

from worker.cli import main

sys.exit(main())
