"""Credentials inside URLs, through the command line: an inline one is a user error (exit 2,
one line, no value), and a database password after ``?password=`` is read whole and never
printed, whatever characters it holds."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.acceptance.test_cli import cli

pytestmark = pytest.mark.slow

TOKEN = "Tk-8Jd2-Omicron"
PASSWORD = "Pw-3Fs6-Lambda"
DB_PASSWORD = "Xq7@Zr9/Kw2"  # the report's shape: "@" and "/" inside ?password=
SECRETS = (TOKEN, PASSWORD, DB_PASSWORD, "Xq7", "Zr9", "Kw2")
ENV = {"VOX_KEY": "vox-key-for-tests", "HOOK_SECRET": "whsec_" + "A" * 32}
VOX = "targets:\n  - {provider: vox_v3, account: a, base_url: '%s', api_key: {env: VOX_KEY}}\n"
HOOK = "webhooks:\n  - {name: w, url: '%s', secret: {env: HOOK_SECRET}}\n"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def db(port: int, query: str = "") -> str:
    return f"postgresql://app@127.0.0.1:{port}/cs?password={DB_PASSWORD}{query}"


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = json.loads(lines[0])
    assert (line["level"], line["event"], line["exit_code"]) == ("error", "cli.failed", 2)
    return str(line["message"])


CASES = {
    "userinfo in a target's base_url": (
        {},
        VOX % f"http://ops:{PASSWORD}@127.0.0.1:9",
        "targets.0.vox_v3.base_url: Value error, carries a user or password before the host",
    ),
    "a token in a webhook url": (
        {},
        HOOK % f"http://127.0.0.1:9/in?token={TOKEN}",
        "webhooks.0.url: Value error, carries a credential in query parameter 'token'",
    ),
    "a password in the NATS url from the environment": (
        {"CAMPAIGN_SYNC_NATS__URL": f"nats://relay:{PASSWORD}@127.0.0.1:4222"},
        "",
        "nats.url: Value error, carries a user or password before the host",
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_a_credential_inline_in_a_url_is_one_line_without_its_value(
    tmp_path: Path, case: str
) -> None:
    env, text, expected = CASES[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = await cli("--config", str(path), "config", "check", env={**ENV, **env})
    assert result.returncode == 2, result.stderr
    message = one_error_line(result.stderr)
    assert expected in message
    assert "give the whole URL by reference, {env: NAME} or {file: PATH}" in message
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout


async def test_a_password_holding_at_in_the_query_never_reaches_the_log(tmp_path: Path) -> None:
    port = closed_port()
    path = tmp_path / "config.yaml"
    path.write_text("")
    result = await cli(
        "--config", str(path), "migrate", env={"CAMPAIGN_SYNC_DATABASE_URL": db(port)}
    )
    assert result.returncode == 3, result.stderr  # unreachable: the URL itself was read
    lines = [json.loads(x) for x in result.stderr.splitlines()]
    (configured,) = [x for x in lines if x["event"] == "db.configured"]
    assert configured["message"] == f"using PostgreSQL at postgresql://app:***@127.0.0.1:{port}/cs"
    assert "database unreachable" in lines[-1]["message"]
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout


async def test_a_bad_sslmode_after_such_a_password_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("")
    result = await cli(
        "--config",
        str(path),
        "migrate",
        env={"CAMPAIGN_SYNC_DATABASE_URL": db(closed_port(), "&sslmode=bogus")},
    )
    assert result.returncode == 2, result.stderr
    assert "database_url: Value error, sslmode must be one of disable" in one_error_line(
        result.stderr
    )
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout


async def test_config_show_prints_such_a_url_without_its_password(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("")
    result = await cli(
        "--config",
        str(path),
        "config",
        "show",
        env={"CAMPAIGN_SYNC_DATABASE_URL": db(5432, "&sslmode=require")},
    )
    assert result.returncode == 0, result.stderr
    assert "database_url: postgresql://app:***@127.0.0.1:5432/cs\n" in result.stdout
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout
