"""Every user error, through the command line as users meet it: exit code 2, one line on
stderr, no traceback and no secret."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

import anyio
import anyio.abc
import pytest
from anyio.streams.text import TextReceiveStream
from sqlalchemy.engine import URL

from tests.acceptance.test_cli import cli, plain

pytestmark = pytest.mark.slow

VOX_KEY = "vox-key-Zq81-do-not-print"
DB_PASSWORD = "S3cr@t:/pa%ss"  # every URL metacharacter a pasted password may hold
DB_ENCODED = "S3cr%40t%3A%2Fpa%25ss"
SECRETS = (VOX_KEY, DB_PASSWORD, DB_ENCODED, "S3cr", "pa%ss")

TARGET = "targets:\n  - {provider: vox_v3, account: a, base_url: '%s', api_key: {env: VOX_KEY}}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def db(port: int | str = 5432, query: str = "") -> str:
    return f"postgresql://app:{DB_PASSWORD}@127.0.0.1:{port}/app{query}"


def busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


CASES = {
    "no database for run": (
        {},
        TARGET % "http://127.0.0.1:9",
        ["run"],
        "no database configured: set CAMPAIGN_SYNC",
    ),
    "no database for migrate": ({}, "", ["migrate"], "pass --embedded"),
    "targets not JSON": (
        {"CAMPAIGN_SYNC_TARGETS": "garbage"},
        "",
        ["sync-once"],
        "environment variable CAMPAIGN_SYNC_TARGETS is not valid JSON",
    ),
    "an override that is no setting": (
        {"CAMPAIGN_SYNC_POLL_INTERVAL": "5"},
        TARGET % "http://127.0.0.1:9",
        ["config", "check"],
        "environment variable CAMPAIGN_SYNC_POLL_INTERVAL is not a setting",
    ),
    "an item of a list": (
        {"CAMPAIGN_SYNC_TARGETS__0__POLL_INTERVAL": "5"},
        "",
        ["config", "check"],
        "targets is a list; override it whole as JSON",
    ),
    "YAML syntax": (
        {},
        "targets:\n  - provider: vox_v3\n   account: [\n",
        ["config", "check"],
        "config.yaml, line 3, column 4: expected <block end>",
    ),
    "a URL with no host": (
        {},
        TARGET % "http://",
        ["config", "check"],
        "targets.0.vox_v3.base_url: Value error, has no host",
    ),
    "an unclosed IPv6 URL": (
        {},
        TARGET % "http://[::1",
        ["config", "check"],
        "not a valid URL (unclosed IPv6 address)",
    ),
    "a webhook URL of another scheme": (
        {"HOOK": "w" * 32},
        "webhooks:\n  - {name: w, url: 'ftp://x', secret: {env: HOOK}}\n",
        ["config", "check"],
        "webhooks.0.url: Value error, must start with http:// or https://",
    ),
    "a database URL with a bad port": (
        {"CAMPAIGN_SYNC_DATABASE_URL": db(99999)},
        TARGET % "http://127.0.0.1:9",
        ["sync-once"],
        "database_url: Value error, not a valid URL (bad port)",
    ),
    "a database URL of another scheme": (
        {"CAMPAIGN_SYNC_DATABASE_URL": f"mysql://app:{DB_PASSWORD}@h/x"},
        "",
        ["migrate"],
        "database_url: Value error, must start with postgresql://",
    ),
    "a libpq parameter not supported": (
        {"CAMPAIGN_SYNC_DATABASE_URL": db(query="?target_session_attrs=any")},
        "",
        ["migrate"],
        "parameter 'target_session_attrs' is not supported",
    ),
    "a bad sslmode": (
        {"CAMPAIGN_SYNC_DATABASE_URL": db(query="?sslmode=always")},
        "",
        ["migrate"],
        "sslmode must be one of disable",
    ),
    "a missing config file": ({}, None, ["config", "check"], "cannot be read"),
    "a flag's bad value": (
        {},
        "",
        ["run", "--health-port", "abc"],
        "argument --health-port: invalid int value: 'abc' (see campaign-sync run --help)",
    ),
    "an unknown command": ({}, "", ["nosuch"], "invalid choice: 'nosuch'"),
}


@pytest.mark.parametrize("case", CASES)
async def test_a_user_error_is_one_line_with_exit_code_2(tmp_path: Path, case: str) -> None:
    env, text, args, expected = CASES[case]
    env = {"VOX_KEY": VOX_KEY, **env}
    path = tmp_path / "missing.yaml" if text is None else write(tmp_path, text)
    result = await cli("--config", str(path), *args, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = json.loads(lines[0])  # JSON log mode: the last error is a JSON object too
    assert (line["level"], line["event"], line["exit_code"]) == ("error", "cli.failed", 2)
    assert expected in line["message"]
    assert "Traceback" not in result.stderr + result.stdout
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout


async def test_text_mode_prints_the_error_as_one_plain_line(tmp_path: Path) -> None:
    path = write(tmp_path, TARGET % "http://")
    result = await cli(
        "--config",
        str(path),
        "config",
        "check",
        env={"CAMPAIGN_SYNC_LOG_FORMAT": "text", "VOX_KEY": VOX_KEY},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"campaign-sync: invalid configuration in {path}: targets.0.vox_v3.base_url: "
        "Value error, has no host"
    ]
    usage = await cli("config", env={"CAMPAIGN_SYNC_LOG_FORMAT": "text"})  # argparse refused
    assert usage.returncode == 2
    assert usage.stderr.splitlines() == [
        "campaign-sync: the following arguments are required: action"
        " (see campaign-sync config --help)"
    ]


async def test_a_health_port_in_use_is_a_user_error(db_url: URL, tmp_path: Path) -> None:
    path = write(tmp_path, TARGET % "http://127.0.0.1:9")
    with busy_port() as taken:
        port = taken.getsockname()[1]
        result = await cli(
            "--config",
            str(path),
            "run",
            "--health-host",
            "127.0.0.1",
            "--health-port",
            str(port),
            env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url), "VOX_KEY": VOX_KEY},
        )
    assert result.returncode == 2, result.stderr
    (last,) = [json.loads(x) for x in result.stderr.splitlines() if '"cli.failed"' in x]
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in last["message"]
    assert "Traceback" not in result.stderr


async def test_an_unreachable_database_names_it_without_its_password(tmp_path: Path) -> None:
    with busy_port() as closed:
        port = closed.getsockname()[1]
    path = write(tmp_path, "")
    result = await cli(
        "--config",
        str(path),
        "migrate",
        env={
            "CAMPAIGN_SYNC_DATABASE_URL": db(port),
        },
    )
    assert result.returncode == 3, result.stderr
    assert "database unreachable" in result.stderr
    assert f"postgresql://app:***@127.0.0.1:{port}/app" in result.stderr  # the log names it
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout


async def test_migrate_needs_only_the_database(empty_db_url: URL, tmp_path: Path) -> None:
    # The provider's key is not set: a migration Job does not need it.
    path = write(tmp_path, TARGET % "http://127.0.0.1:9")
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(empty_db_url)}
    os.environ.pop("VOX_KEY", None)
    result = await cli("--config", str(path), "migrate", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("schema migrated none -> ")


async def test_config_show_hides_every_secret(tmp_path: Path) -> None:
    path = write(tmp_path, TARGET % "http://127.0.0.1:9")
    result = await cli(
        "--config",
        str(path),
        "config",
        "show",
        env={
            "VOX_KEY": VOX_KEY,
            "CAMPAIGN_SYNC_DATABASE_URL": db(5432, "?password=" + DB_ENCODED),
            "CAMPAIGN_SYNC_NATS__URL": "nats://127.0.0.1:4223",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "api_key: '***'" in result.stdout
    assert "database_url: postgresql://app:***@127.0.0.1:5432/app" in result.stdout
    assert "url: nats://127.0.0.1:4223" in result.stdout  # a nested override
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


async def test_run_with_embedded_starts_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = write(tmp_path, TARGET % "http://127.0.0.1:9" + "")
    env = {
        **os.environ,
        "VOX_KEY": VOX_KEY,
        "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        "CAMPAIGN_SYNC_DATA_DIR": str(tmp_path / "pgdata"),
    }
    env.pop("CAMPAIGN_SYNC_DATABASE_URL", None)
    env.pop("CAMPAIGN_SYNC_CONFIG", None)
    command = [sys.executable, "-m", "worker", "--config", str(path), "run", "--embedded",
               "--health-port", "0"]  # fmt: skip
    async with await anyio.open_process(command, env=env) as process:
        assert process.stderr is not None
        events: list[str] = []
        buffer = ""
        with anyio.fail_after(60):  # wait for the scheduler's own line, not for time
            async for chunk in TextReceiveStream(process.stderr):
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                events.extend(json.loads(x).get("event", "") for x in lines if x.startswith("{"))
                if "scheduler.started" in events:
                    break
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(60):
            code = await process.wait()
    assert code == 0
    assert "embedded_db.started" in events or any(e.startswith("embedded_db") for e in events)


async def refuse_ssl(stream: anyio.abc.SocketStream) -> None:
    """A PostgreSQL server without SSL, as the protocol has it: SSLRequest is answered "N"."""
    async with stream:
        await stream.receive(8)  # length 8, code 80877103
        await stream.send(b"N")
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
            await stream.receive()


@pytest.mark.parametrize("reachable", [True, False], ids=["server without SSL", "closed port"])
async def test_sslmode_require_ends_in_one_line_not_a_traceback(
    tmp_path: Path, reachable: bool
) -> None:
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
        async with anyio.create_task_group() as server:
            if reachable:
                server.start_soon(listener.serve, refuse_ssl)
                expected = "rejected SSL upgrade"
            else:
                await listener.aclose()
                expected = "database unreachable"
            result = await cli(
                "--config",
                str(write(tmp_path, "")),
                "migrate",
                env={"CAMPAIGN_SYNC_DATABASE_URL": db(port, "?sslmode=require")},
            )
            server.cancel_scope.cancel()
    assert result.returncode == 3, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    assert [line["event"] for line in lines if line["level"] == "error"] == ["cli.failed"]
    assert lines[-1]["event"] == "cli.failed" and expected in lines[-1]["message"]
    assert "Traceback" not in result.stderr + result.stdout
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout
