"""The fast tier's guard (tests/fast/conftest.py) shuts every door it promises to, and no more."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.fast.conftest import FastTierViolation

# The guard's own conftest, run in a pytest session of its own (in this process).
pytest_plugins = ["pytester"]


def _connect() -> None:
    with socket.socket() as sock:
        sock.connect(("127.0.0.1", 9))


def _connect_ex() -> None:
    with socket.socket() as sock:
        sock.connect_ex(("127.0.0.1", 9))


def _listen_on_loopback() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))


def _run_a_process() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


async def _open_connection() -> None:
    await asyncio.open_connection("127.0.0.1", 9)


async def _start_a_process() -> None:
    await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")


@pytest.mark.parametrize(
    ("attempt", "door"),
    [
        (_connect, "socket.connect"),
        (_connect_ex, "socket.connect_ex"),
        (_listen_on_loopback, "socket.bind"),
        (_run_a_process, "subprocess.Popen"),
    ],
)
def test_each_door_raises_and_is_remembered(
    attempt: Callable[[], None], door: str, fast_tier_guard: list[str]
) -> None:
    with pytest.raises(FastTierViolation, match="move this test out of tests/fast"):
        attempt()
    assert [tried.split("(")[0] for tried in fast_tier_guard] == [door]
    fast_tier_guard.clear()  # tried on purpose: let this test pass


async def test_asyncio_connections_and_processes_are_refused(fast_tier_guard: list[str]) -> None:
    for attempt in (_open_connection, _start_a_process):
        with pytest.raises(FastTierViolation):
            await attempt()
    assert [tried.split("(")[0] for tried in fast_tier_guard] == [
        "socket.connect",
        "subprocess.Popen",
    ]
    fast_tier_guard.clear()


async def test_in_process_asgi_and_unix_socket_pairs_stay_open(fast_tier_guard: list[str]) -> None:
    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("in process"))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
        assert (await client.get("/")).text == "in process"
    left, right = socket.socketpair()  # what an event loop wakes itself with
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    assert fast_tier_guard == []


GUARDED_TESTS = """
import socket

import pytest


def test_swallows_the_refusal():
    try:
        socket.create_connection(("127.0.0.1", 9))
    except Exception:
        pass  # as a provider's HTTP layer turns any connection error into its own


@pytest.fixture
def db_url():
    raise AssertionError("never set up: the guard refuses first")


def test_asks_for_the_database(db_url):
    pass


def test_pure():
    assert 1 + 1 == 2
"""


def test_a_swallowed_refusal_and_a_database_fixture_still_fail(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(test_guarded=GUARDED_TESTS)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )  # fmt: skip
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*test_swallows_the_refusal*",
            "*fast tier: socket.connect(('127.0.0.1', 9))*",
            "*fast tier: test_guarded.py::test_asks_for_the_database uses db_url*",
        ]
    )
