"""An invalid setting is reported by where it came from: the environment variable that
set it (which wins over the file), else the config file. Through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.test_cli import cli
from tests.acceptance.test_user_errors import DB_PASSWORD, SECRETS, TARGET, VOX_KEY, db, write

pytestmark = pytest.mark.slow

GOOD_TARGET = TARGET % "http://127.0.0.1:9"
BAD_TARGET = TARGET % "http://"
LISTED = {"provider": "vox_v3", "account": "a", "api_key": {"env": "VOX_KEY"}}
NATS = "nats:\n  url: nats://127.0.0.1:4222\n  stream: EVENTS\n"

# name: (environment, config file, command, the start of each problem, in order)
CASES = {
    "database URL from the environment": (
        {"CAMPAIGN_SYNC_DATABASE_URL": db(99999)},
        GOOD_TARGET,
        ["config", "check"],
        ["in environment variable CAMPAIGN_SYNC_DATABASE_URL: database_url: Value error, "],
    ),
    "database URL from the environment, for a database command": (
        {"CAMPAIGN_SYNC_DATABASE_URL": f"mysql://app:{DB_PASSWORD}@h/x"},
        GOOD_TARGET,
        ["status"],
        ["in environment variable CAMPAIGN_SYNC_DATABASE_URL: database_url: Value error, "],
    ),
    "a key of a section": (
        {"CAMPAIGN_SYNC_NATS__URL": "ftp://x"},
        NATS,
        ["config", "check"],
        ["in environment variable CAMPAIGN_SYNC_NATS__URL: nats.url: Value error, "],
    ),
    "a top-level choice": (
        {"CAMPAIGN_SYNC_LOG_LEVEL": "LOUD"},
        "log_level: INFO\n",
        ["config", "check"],
        ["in environment variable CAMPAIGN_SYNC_LOG_LEVEL: log_level: Input should be "],
    ),
    "a list given whole": (
        {"CAMPAIGN_SYNC_TARGETS": json.dumps([{**LISTED, "base_url": "http://"}])},
        GOOD_TARGET,
        ["config", "check"],
        ["in environment variable CAMPAIGN_SYNC_TARGETS: targets.0.vox_v3.base_url: "],
    ),
    "one from each": (
        {"CAMPAIGN_SYNC_DATABASE_URL": db(99999)},
        BAD_TARGET,
        ["config", "check"],
        [
            "in environment variable CAMPAIGN_SYNC_DATABASE_URL: database_url: Value error, ",
            "in {path}: targets.0.vox_v3.base_url: Value error, ",
        ],
    ),
    "the file's own key": (
        {},
        f"database_url: '{db(99999)}'\n",
        ["config", "check"],
        ["in {path}: database_url: Value error, "],
    ),
    "a section key in the file, another from the environment": (
        {"CAMPAIGN_SYNC_NATS__STREAM": "EVENTS2"},
        NATS.replace("nats://127.0.0.1:4222", "ftp://x"),
        ["config", "check"],
        ["in {path}: nats.url: Value error, "],
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_an_invalid_setting_names_its_source(tmp_path: Path, case: str) -> None:
    env, text, args, problems = CASES[case]
    path = write(tmp_path, text)
    result = await cli(
        "--config",
        str(path),
        *args,
        env={"VOX_KEY": VOX_KEY, "CAMPAIGN_SYNC_LOG_FORMAT": "text", **env},
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("campaign-sync: invalid configuration "), line
    segments = line.removeprefix("campaign-sync: invalid configuration ").split("; ")
    assert len(segments) == len(problems), line
    for segment, problem in zip(segments, problems, strict=True):
        assert segment.startswith(problem.format(path=path)), line
    if not any("{path}" in p for p in problems):
        assert str(path) not in line  # the file holds no such value: do not send users there
    for secret in SECRETS:
        assert secret not in result.stderr + result.stdout
