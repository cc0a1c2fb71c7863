"""The database pool is a setting (``database_pool_size``, ``database_max_overflow``) with
documented defaults, checked at start-up like every other: a bad value is exit code 2 and
one line that names the key, from the file or from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.acceptance.test_cli import cli

pytestmark = pytest.mark.slow

BAD = {
    "a pool of none": ({}, "database_pool_size: 0\n", "database_pool_size: Input should be "),
    "a pool that is no number": (
        {},
        "database_pool_size: many\n",
        "database_pool_size: Input should be a valid integer",
    ),
    "a negative overflow": (
        {},
        "database_max_overflow: -1\n",
        "database_max_overflow: Input should be greater than or equal to 0",
    ),
    "an overflow past the limit, from the environment": (
        {"CAMPAIGN_SYNC_DATABASE_MAX_OVERFLOW": "101"},
        "",
        "database_max_overflow: Input should be less than or equal to 100",
    ),
}


@pytest.mark.parametrize("case", BAD)
async def test_a_bad_pool_setting_is_one_line_naming_the_key(tmp_path: Path, case: str) -> None:
    env, text, expected = BAD[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = await cli("--config", str(path), "config", "check", env=env)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    error = json.loads(line)
    assert (error["event"], error["exit_code"]) == ("cli.failed", 2)
    assert expected in error["message"], error["message"]
    assert "Traceback" not in result.stderr + result.stdout


async def test_the_pool_defaults_are_five_and_five_and_a_file_may_change_them(
    tmp_path: Path,
) -> None:
    defaults = await cli("config", "show")
    assert defaults.returncode == 0, defaults.stderr
    shown = yaml.safe_load(defaults.stdout)
    assert (shown["database_pool_size"], shown["database_max_overflow"]) == (5, 5)
    path = tmp_path / "config.yaml"
    path.write_text("database_pool_size: 2\ndatabase_max_overflow: 0\n")
    checked = await cli("--config", str(path), "config", "check")
    assert checked.returncode == 0, checked.stderr
    changed = yaml.safe_load((await cli("--config", str(path), "config", "show")).stdout)
    assert (changed["database_pool_size"], changed["database_max_overflow"]) == (2, 0)
