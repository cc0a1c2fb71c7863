"""The docs promise what the code does: the Quickstart, CI's install, the status tables."""

from __future__ import annotations

import re
from pathlib import Path

from worker.domain.campaign import Status
from worker.domain.events import EventKind
from worker.providers import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_quickstart_has_exactly_two_one_line_commands() -> None:
    demo, tests = quickstart_commands()
    assert "\n" not in demo and "\n" not in tests
    assert demo.endswith("campaign-sync demo")
    assert tests.endswith("pytest")


def test_ci_installs_and_tests_the_way_the_quickstart_does() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"pip install (-e '[^']*')", quickstart_commands()[1])
    assert install is not None
    assert f"install --quiet --disable-pip-version-check {install.group(1)}" in ci
    assert "\npytest\n" in ci
    assert "ruff check" in ci and "mypy" in ci and "lint-imports" in ci


def status_rows() -> dict[tuple[str, str], str]:
    rows: dict[tuple[str, str], str] = {}
    for providers, raw, normalized in re.findall(
        r"^\| ([a-z0-9_, ]+) \| `([^`]+)` \| (.+?) \|$", README, re.M
    ):
        for provider in providers.split(", "):
            rows[(provider, raw)] = normalized
    return rows


def test_readme_status_tables_match_the_code() -> None:
    rows = status_rows()
    for name, adapter in PROVIDERS.items():
        table = adapter.status_table
        documented = {raw for (provider, raw) in rows if provider == name}
        assert documented == set(table), name
        for raw, status in table.items():
            cell = rows[(name, raw)]
            if cell.startswith("derived"):  # VOXO READY: the status comes from the dates
                assert status in (Status.SCHEDULED, Status.RUNNING, Status.COMPLETED)
            else:
                assert cell.split()[0] == status.value, (name, raw, cell)


def test_changelog_follows_keep_a_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "keepachangelog.com" in changelog
    assert "## [Unreleased]" in changelog
    sections = re.findall(r"^### (.+)$", changelog, re.M)
    kinds = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    assert set(sections) <= kinds, set(sections) - kinds
    # Each entry is a "- " bullet; other lines continue one, indented by two spaces.
    body = changelog.split("## [Unreleased]", 1)[1]
    strays = [
        line
        for line in body.splitlines()
        if (line and not line.startswith(("- ", "  ", "#", "["))) or line.startswith("-- ")
    ]
    assert strays == []


def test_the_event_catalogue_lists_every_kind() -> None:
    section = README.split("## Change events", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", section, re.M))
    assert listed == {kind.type for kind in EventKind}


def test_the_documented_exit_codes_are_the_clis() -> None:
    from worker.cli import commands as cli

    for code in ("1 a sync target failed", "2 invalid configuration", "4 a target is being"):
        assert code in " ".join((cli.__doc__ or "").split())
    assert "4 a target is being synced by another worker" in " ".join(README.split())
