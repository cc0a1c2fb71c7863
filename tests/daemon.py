"""A ``campaign-sync`` subprocess as tests drive it: its stderr read as it comes, waits that
end on a log line rather than on time, and a kill on any failure, so a test that fails
names its own step and shows the daemon's log instead of hanging on a live process."""

from __future__ import annotations

import json
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from sqlalchemy.engine import URL

Line = dict[str, Any]
LOG_TAIL = 60  # lines of the daemon's log attached to a failure


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_command(config: Path, *, health_port: int = 0) -> list[str]:
    """``campaign-sync run`` on ``config``, its health endpoints on loopback (0: any port)."""
    return [sys.executable, "-m", "worker", "--config", str(config), "run",
            "--health-host", "127.0.0.1", "--health-port", str(health_port)]  # fmt: skip


def plain(url: URL) -> str:
    """The URL as a user pastes it: libpq's scheme, password included."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Daemon:
    """One running worker process and what it has logged so far."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self._raw = bytearray()
        self._lines: list[Line] = []
        self._parsed_upto = 0  # bytes of _raw already split into lines
        self._cursor = 0  # lines already read by next_line() and until()
        self._ended = False  # its stderr is closed: no more lines will come
        self._grew = anyio.Event()
        self.stdout = bytearray()  # what it printed, read as it comes too

    @property
    def text(self) -> str:
        return self._raw.decode(errors="replace")

    @property
    def lines(self) -> list[Line]:
        """The complete JSON lines so far; a line that is not JSON fails the test here."""
        end = self._raw.rfind(b"\n", self._parsed_upto) + 1
        if end > self._parsed_upto:
            chunk = bytes(self._raw[self._parsed_upto : end])
            self._lines.extend(json.loads(x) for x in chunk.splitlines() if x.strip())
            self._parsed_upto = end
        return self._lines

    async def drain(self) -> None:  # a full stderr pipe would stall the daemon
        assert self.process.stderr is not None
        async for chunk in self.process.stderr:
            self._raw += chunk
            self._grew.set()
            self._grew = anyio.Event()
        self._ended = True
        self._grew.set()

    async def drain_stdout(self) -> None:
        assert self.process.stdout is not None
        async for chunk in self.process.stdout:
            self.stdout += chunk
            self._grew.set()
            self._grew = anyio.Event()

    async def printed(self, marker: str, seconds: float = 60) -> str:
        """Its standard output up to the first line holding ``marker``, once printed."""
        with anyio.fail_after(seconds):
            while True:
                grew = self._grew
                text = self.stdout.decode(errors="replace")
                if marker in text:
                    return text[: text.index(marker)]
                if self._ended and self.process.returncode is not None:
                    raise AssertionError(
                        f"it exited ({self.process.returncode}) without {marker!r}"
                    )
                await grew.wait()

    async def next_line(self) -> Line | None:
        """The line after the last one read, or None once the daemon's log has ended."""
        while True:
            grew = self._grew
            lines = self.lines
            if self._cursor < len(lines):
                self._cursor += 1
                return lines[self._cursor - 1]
            if self._ended:
                return None
            await grew.wait()

    async def until(self, done: Callable[[Line], bool], seconds: float = 60) -> Line:
        """The first line after the previous wait's match that satisfies ``done``: waits
        read the log in order, so a line that came before this call still counts."""
        with anyio.fail_after(seconds):
            while (line := await self.next_line()) is not None:
                if done(line):
                    return line
        raise AssertionError(f"the daemon exited ({self.process.returncode})")

    async def logged(self, n: int, seconds: float = 60) -> None:
        """Until it has logged ``n`` lines: a point of its run, told by its log."""
        with anyio.fail_after(seconds):
            while True:
                grew = self._grew
                if len(self.lines) >= n:
                    return
                if self._ended:
                    raise AssertionError(f"the daemon exited ({self.process.returncode})")
                await grew.wait()

    async def stop(self, sig: signal.Signals = signal.SIGTERM, seconds: float = 30) -> int:
        self.process.send_signal(sig)
        with anyio.fail_after(seconds):
            return await self.process.wait()


@asynccontextmanager
async def daemon(command: Sequence[str], env: Mapping[str, str]) -> AsyncIterator[Daemon]:
    async with await anyio.open_process(list(command), env=dict(env)) as process:
        running = Daemon(process)
        try:
            async with anyio.create_task_group() as readers:
                readers.start_soon(running.drain)
                readers.start_soon(running.drain_stdout)
                try:
                    yield running
                finally:
                    if process.returncode is None:
                        process.kill()  # the test is over, passed or not: never outlive it
        except BaseException as failure:
            cause = failure
            # The reader task group wraps the test's own failure; show that failure itself.
            while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
                cause = cause.exceptions[0]
            tail = running.text.splitlines()[-LOG_TAIL:]
            cause.add_note("the daemon's log, last lines:\n" + "\n".join(tail))
            if cause is failure:
                raise
            raise cause from None
