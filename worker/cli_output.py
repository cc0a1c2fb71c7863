"""How the command line reports its end: one line on stderr, or one JSON object.

In JSON log mode every line a process writes is one JSON object, so a log
pipeline never has to stitch a traceback or a bare error line back together.
Secrets are blanked from these lines as from every log line.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Collection

from worker.domain.records import redact
from worker.logs import JsonFormatter

__all__ = ["CliOutput"]


class CliOutput:
    """Writes the CLI's last line in the active format ("json" or "text")."""

    def __init__(self, fmt: str, secrets: Collection[str]) -> None:
        self.format = fmt
        self._secrets = secrets

    def fail(self, message: str, code: int) -> int:
        """Report a user-facing error and return its exit code."""
        self._write("cli.failed", message, code)
        return code

    def crash(self, exc: BaseException) -> int:
        """Report a bug: the traceback is a field in JSON mode, and follows in text mode."""
        message = f"internal error: {type(exc).__name__}: {exc} (a bug; please report it)"
        trace = "".join(traceback.format_exception(exc))
        self._write("cli.crashed", message, 1, exception=trace)
        return 1

    def _write(self, event: str, message: str, code: int, *, exception: str | None = None) -> None:
        message = str(redact(message, self._secrets))
        trace = None if exception is None else str(redact(exception, self._secrets))
        if self.format == "json":
            # The log's own formatter: the same keys as every other line.
            record = logging.makeLogRecord(
                {
                    "name": "worker.cli",
                    "levelno": logging.ERROR,
                    "levelname": "ERROR",
                    "msg": message,
                    "event": event,
                    "exit_code": code,
                    "exc_text": trace,
                }
            )
            print(JsonFormatter().format(record), file=sys.stderr)
            return
        print(f"campaign-sync: {message}", file=sys.stderr)
        if trace is not None:
            print(trace, file=sys.stderr, end="")
