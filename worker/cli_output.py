"""How the command line reports its end: one line on stderr, or one JSON object.

In JSON log mode every line a process writes is one JSON object, so a log
pipeline never has to stitch a traceback or a bare error line back together.
Secrets are blanked from these lines as from every log line.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Collection
from datetime import UTC, datetime

from worker.domain.records import redact

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
        if self.format == "json":
            line = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "level": "error",
                "logger": "worker.cli",
                "event": event,
                "message": message,
                "exit_code": code,
            }
            if exception is not None:
                line["exception"] = str(redact(exception, self._secrets))
            print(json.dumps(line, ensure_ascii=False), file=sys.stderr)
            return
        print(f"campaign-sync: {message}", file=sys.stderr)
        if exception is not None:
            print(redact(exception, self._secrets), file=sys.stderr, end="")
