"""The ``campaign-sync`` command line: the entry point, ``events``, output, ``demo`` and admin."""

from worker.cli.commands import main

__all__ = ["main"]
