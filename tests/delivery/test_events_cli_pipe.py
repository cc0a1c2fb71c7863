"""``campaign-sync events tail --json | head -1``: a reader that stops reading ends the
command quietly, as it ends ``cat`` or ``grep``: no traceback, no "a bug" line, and the
shell's status of a process whose pipe closed (141, 128 + SIGPIPE)."""

from __future__ import annotations

import json
import os
import sys

import anyio
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import plain
from tests.delivery.outbox import ACME, campaign, writers
from worker.cli.output import PIPE_CLOSED
from worker.storage.postgres import PostgresStore

pytestmark = pytest.mark.slow


async def test_tail_into_a_pipe_closed_early_exits_quietly(
    db_url: URL, engine: AsyncEngine
) -> None:
    store = PostgresStore(engine)
    env = {**os.environ, "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
    env.pop("CAMPAIGN_SYNC_LOG_FORMAT", None)
    command = [sys.executable, "-m", "worker", "events", "tail", "--follow", "--json"]
    # A pipe of our own: closing its read end is what `head` exiting does to the writer.
    read_end, write_end = os.pipe()
    async with writers(store) as (acme, _):
        tail = await anyio.open_process(command, env=env, stdout=write_end)
        os.close(write_end)
        try:
            await acme.write(campaign(ACME, "first"))
            with anyio.fail_after(20):
                line = await anyio.to_thread.run_sync(
                    os.read, read_end, 65536, abandon_on_cancel=True
                )
            assert json.loads(line.decode().splitlines()[0])["subject"] == "first"
            os.close(read_end)  # `head -1` has its line and exits
            await acme.write(campaign(ACME, "second"))  # the next line meets a closed pipe
            with anyio.fail_after(20):
                code = await tail.wait()
            assert tail.stderr is not None
            stderr = (await tail.stderr.receive(1 << 20)).decode() if code is not None else ""
        finally:
            if tail.returncode is None:
                tail.kill()
            await tail.aclose()
    assert code == PIPE_CLOSED == 141, stderr
    for sign_of_a_crash in ("Traceback", "cli.crashed", "a bug", "Exception ignored"):
        assert sign_of_a_crash not in stderr, stderr
