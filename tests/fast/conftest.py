"""The fast tier's guard: no database, no subprocess, no network, so ``pytest tests/fast`` runs alone in seconds.

Every test in this folder runs with the doors below shut. Opening one raises
``FastTierViolation`` at once, and the test fails at teardown even if the code under test
caught that error (a provider's HTTP layer turns any connection failure into
``ProviderUnavailable``, so a raise alone could pass unnoticed):

* a socket that connects anywhere, or binds an internet address (a server on loopback);
  in-process transports such as ``httpx.ASGITransport`` open no socket and are fine;
* a child process: ``subprocess``, ``asyncio.create_subprocess_*``, ``os.system``, forks;
* the database fixtures of ``tests/conftest.py`` (a test that asks for one fails before it runs).

A test that needs any of them belongs in another folder (see ``tests/README.md``).
``tests/fast/test_fast_tier_guard.py`` proves each door is shut.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

# tests/conftest.py's fixtures that reach the database, and the NATS fixtures of tests/delivery.
SERVICE_FIXTURES = frozenset(
    {"pg_server", "template_db", "db_url", "empty_db_url", "engine", "nats_url", "own_nats", "js"}
)
_INTERNET = (socket.AF_INET, socket.AF_INET6)


class FastTierViolation(PermissionError):
    """A fast test reached for a database, a subprocess or the network.

    An ``OSError``, as the operating system's own refusal would be, so that code on the way
    cleans up (``socket.create_connection`` closes its socket) instead of leaking.
    """


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # tryfirst: refuse before the session's embedded PostgreSQL would be started for it.
    wanted = sorted(SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    if wanted:
        pytest.fail(
            f"fast tier: {item.nodeid} uses {', '.join(wanted)}; "
            "a test that needs a service belongs outside tests/fast",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def fast_tier_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Shut the doors for one test; fail it at teardown if it tried one.

    Yields the list of doors tried, for the guard's own test to read and clear.
    """
    tried: list[str] = []

    def refuse(what: str) -> NoReturn:
        tried.append(what)
        raise FastTierViolation(f"fast tier: {what}; move this test out of tests/fast")

    def door(what: str, method: bool = True) -> Callable[..., NoReturn]:
        def shut(*args: Any, **kwargs: Any) -> NoReturn:
            # A method's first argument is the socket or Popen itself: show what it was asked.
            shown = args[1:] if method else args
            refuse(f"{what}({', '.join(repr(arg)[:80] for arg in shown)})")

        return shut

    original_bind = socket.socket.bind

    def bind(sock: socket.socket, address: Any) -> None:
        if sock.family in _INTERNET:
            refuse(f"socket.bind({address!r})")
        original_bind(sock, address)

    monkeypatch.setattr(socket.socket, "connect", door("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", door("socket.connect_ex"))
    monkeypatch.setattr(socket.socket, "bind", bind)
    # Popen is where subprocess.run, check_output and asyncio's subprocesses all start.
    monkeypatch.setattr(subprocess.Popen, "__init__", door("subprocess.Popen"))
    for name in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, door(f"os.{name}", method=False))
    yield tried
    if tried:
        pytest.fail("fast tier: " + "; ".join(tried), pytrace=False)
