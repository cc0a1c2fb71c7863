"""How the command line reports its end: one line on stderr, or one JSON object.

In JSON log mode every line a process writes is one JSON object, so a log
pipeline never has to stitch a traceback or a bare error line back together.
Secrets are blanked from these lines as from every log line.

A reader that stops reading (``campaign-sync events tail --json | head -1``) is
not an error of ours: the command stops quietly with status 141, what a shell
reports for ``cat`` or ``grep`` killed by SIGPIPE (128 + 13). Python ignores
SIGPIPE and raises ``BrokenPipeError`` instead; :func:`reader_gone` tells that
apart from a broken socket elsewhere by asking stdout itself.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import traceback
from collections.abc import Collection

from worker.observability import loggers
from worker.observability.logs import JsonFormatter
from worker.observability.redaction import redact

__all__ = ["PIPE_CLOSED", "CliOutput", "reader_gone"]

PIPE_CLOSED = 141  # 128 + SIGPIPE: the status a shell shows for `cat` whose reader left


def reader_gone(exc: BaseException) -> bool:
    """Whether ``exc`` is stdout's reader going away (alone, or all of a task group's)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(reader_gone(inner) for inner in exc.exceptions)
    return isinstance(exc, BrokenPipeError) and _stdout_broken()


def _stdout_broken() -> bool:
    # A pipe whose read end is closed polls as an error on its write end; a
    # BrokenPipeError from some socket leaves stdout writable, and stays a bug.
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):  # no file descriptor (a test's capture): trust the error
        return True


class CliOutput:
    """Writes the CLI's last line in the active format ("json" or "text")."""

    def __init__(self, fmt: str, secrets: Collection[str]) -> None:
        self.format = fmt
        self._secrets = secrets

    def fail(self, message: str, code: int) -> int:
        """Report a user-facing error and return its exit code."""
        self._write("cli.failed", message, code)
        return code

    def pipe_closed(self) -> int:
        """Stop quietly: stdout's reader left (``… | head``); returns :data:`PIPE_CLOSED`."""
        # Python flushes stdout once more on exit; with stdout on /dev/null that flush
        # cannot print "Exception ignored … BrokenPipeError" after we are done.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # no file descriptor to replace
            pass
        finally:
            os.close(devnull)
        return PIPE_CLOSED

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
                    "name": loggers.CLI,
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
