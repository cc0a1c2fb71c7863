"""The CLI's last line: in JSON mode a crash is one JSON object, its traceback a field."""

from __future__ import annotations

import json

import pytest

from worker.cli.output import CliOutput

SECRET = "vox-key-crash-9Qx"


def raised() -> ValueError:
    """A real exception, with a traceback through this module, whose text holds a secret."""
    try:
        raise ValueError(f"bad state near {SECRET}")
    except ValueError as exc:
        return exc


def test_a_crash_in_json_mode_is_one_object_with_its_traceback_as_a_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = CliOutput("json", {SECRET}).crash(raised())
    err = capsys.readouterr().err
    assert code == 1
    (line,) = err.splitlines()  # the multi-line traceback stays inside the one object
    crashed = json.loads(line)
    assert (crashed["level"], crashed["event"], crashed["exit_code"]) == ("error", "cli.crashed", 1)
    assert crashed["message"].startswith("internal error: ValueError: bad state near ")
    assert crashed["exception"].startswith("Traceback (most recent call last):")
    assert "in raised" in crashed["exception"]
    assert SECRET not in err


def test_a_crash_in_text_mode_prints_the_line_then_the_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    CliOutput("text", {SECRET}).crash(raised())
    err = capsys.readouterr().err
    first, *trace = err.splitlines()
    assert first.startswith("campaign-sync: internal error: ValueError: bad state near ")
    assert trace[0] == "Traceback (most recent call last):"
    assert SECRET not in err
