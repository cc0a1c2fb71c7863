"""The docs promise what the code does: the Quickstart, CI's install, every setting, event,
status, exit code, logger and metric they list, and every link between them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from worker import config
from worker.domain.campaign import Status
from worker.domain.dialects import DIALECTS
from worker.domain.events import EventKind
from worker.observability import loggers, metrics

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"


def doc(name: str) -> str:
    """The text of ``docs/<name>``."""
    return (DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    """The body under ``heading`` (a whole heading line, ``## Name``) up to the next heading
    of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    body = text.split(f"\n{heading}\n", 1)[1]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", body, re.M)]
    return body[: min(ends, default=len(body))]


def table(text: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in ``text``, by header cell."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    header, rows = cells[0], cells[2:]
    return [dict(zip(header, row, strict=True)) for row in rows]


def quickstart_commands() -> list[str]:
    body = section(README, "## Quickstart")
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", body, re.S)]


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
    # The fast tier runs first, by the command docs/development.md gives.
    assert re.search(r"\bpytest( -\S+)* tests/fast\b", ci)
    assert "ruff check" in ci and "mypy" in ci and "lint-imports" in ci


# Links: every page the README maps exists, every page is mapped, and every relative link
# of the README and the docs reaches a file (and, with a #fragment, a heading of it).


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [
        link
        for link in re.findall(r"\]\(([^)\s]+)\)", text)
        if not re.match(r"[a-z]+:", link)  # http(s)://, mailto:
    ]


PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for link in _links(page):
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or (
            fragment and path.suffix == ".md" and fragment not in _anchors(path)
        ):
            broken.append(link)
    assert broken == []


def test_the_readme_maps_every_docs_page() -> None:
    mapped = {
        link for link in _links(ROOT / "README.md") if re.fullmatch(r"docs/[a-z_]+\.md", link)
    }
    assert mapped == {f"docs/{p.name}" for p in DOCS.glob("*.md")}
    assert "docs/providers.md" in mapped


def test_the_fast_tiers_command_is_documented() -> None:
    assert "`pytest tests/fast`" in doc("development.md")


# What the code defines, the docs list.


def status_rows() -> dict[tuple[str, str], str]:
    rows: dict[tuple[str, str], str] = {}
    body = section(doc("reporting.md"), "## Statuses")
    for providers, raw, normalized in re.findall(
        r"^\| ([a-z0-9_, ]+) \| `([^`]+)` \| (.+?) \|$", body, re.M
    ):
        for provider in providers.split(", "):
            rows[(provider, raw)] = normalized
    return rows


def test_the_status_tables_match_the_code() -> None:
    rows = status_rows()
    assert {provider for provider, _ in rows} == set(DIALECTS)
    for name, dialect in DIALECTS.items():
        table = dialect.status_table
        documented = {raw for (provider, raw) in rows if provider == name}
        assert documented == set(table), name
        for raw, status in table.items():
            cell = rows[(name, raw)]
            if cell.startswith("derived"):  # VOXO READY: the status comes from the dates
                assert status in (Status.SCHEDULED, Status.RUNNING, Status.COMPLETED)
            else:
                assert cell.split()[0] == status.value, (name, raw, cell)


def test_the_normalized_statuses_are_listed() -> None:
    body = section(doc("reporting.md"), "## Statuses")
    assert set(re.findall(r"`([a-z]+)`", body)) >= {status.value for status in Status}


def test_the_event_catalogue_lists_every_kind() -> None:
    body = section(doc("events.md"), "## Change events")
    listed = set(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", body, re.M))
    assert listed == {kind.type for kind in EventKind}


def test_the_documented_exit_codes_are_the_clis() -> None:
    from worker.cli import commands as cli

    code_doc = " ".join((cli.__doc__ or "").split())
    for code in ("1 a sync target failed", "2 invalid configuration", "4 a target is being"):
        assert code in code_doc
    for code in ("130 interrupted", "141 stdout's reader"):
        assert code in code_doc
    readme = " ".join(README.split())
    assert "4 a target is being synced by another worker" in readme
    assert "130 interrupted" in readme and "141 standard output's reader" in readme


# docs/configuration.md: one table per model, every field a row with its default and bounds.

CONFIGURATION_TABLES: dict[str, tuple[type[BaseModel], type[BaseModel] | None]] = {
    "## Top-level keys": (config.Settings, None),
    "## `health`": (config.HealthSettings, None),
    "### Every target": (config.TargetBase, None),
    "### `vox_v3` targets": (config.VoxV3Target, config.TargetBase),
    "### `vox_v2` targets": (config.VoxV2Target, config.TargetBase),
    "### `voxo` targets": (config.VoxoTarget, config.TargetBase),
    "### `sarvam` targets": (config.SarvamTarget, config.TargetBase),
    "### `http`": (config.HttpSettings, None),
    "### `limits`": (config.LimitSettings, None),
    "## `webhooks`": (config.WebhookSettings, None),
    "## `nats`": (config.NatsSettings, None),
}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def documented_default(info: FieldInfo) -> str:
    """How docs/configuration.md writes a field's default (the cell starts with it)."""
    if info.is_required():
        return "required"
    value: Any = info.default
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "see "
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`"
    if isinstance(value, tuple):
        return f"`{list(value)}`"
    return f"`{value}`"


def bounds(info: FieldInfo) -> list[str]:
    """The numeric bounds pydantic enforces on a field, as the docs write numbers."""
    found = []
    for item in info.metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(item, name, None)
            if value is not None:
                found.append(_number(value))
    return found


@pytest.mark.parametrize("heading", CONFIGURATION_TABLES)
def test_the_configuration_page_lists_every_setting(heading: str) -> None:
    model, inherited = CONFIGURATION_TABLES[heading]
    fields = {
        name: info
        for name, info in model.model_fields.items()
        if inherited is None or name not in inherited.model_fields
    }
    rows = {row["key"].strip("`"): row for row in table(section(doc("configuration.md"), heading))}
    assert set(rows) == set(fields), heading
    for name, info in fields.items():
        row = rows[name]
        assert row["default"].startswith(documented_default(info)), (name, row["default"])
        for bound in bounds(info):
            assert bound in row["range"], (name, bound, row["range"])
        if "environment variable" in row:
            assert row["environment variable"].startswith(f"`CAMPAIGN_SYNC_{name.upper()}"), name


def test_the_configuration_page_names_every_settings_model() -> None:
    models = {m for m, _ in CONFIGURATION_TABLES.values()}
    exported = {
        value
        for name in config.__all__
        if isinstance(value := getattr(config, name), type) and issubclass(value, BaseModel)
    }
    assert exported <= models


# docs/operations.md: the pinned logger names and every exported metric.


def test_the_operations_page_lists_every_logger_name() -> None:
    rows = table(section(doc("operations.md"), "### Logger names"))
    assert [row["logger"].strip("`") for row in rows] == list(loggers.ALL)


def exported_metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            described = next(iter(value.describe()))
            suffix = "_total" if described.type == "counter" else ""
            # prometheus_client has no public accessor for a metric's label names.
            found[described.name + suffix] = (described.type, tuple(value._labelnames))
    return found


def test_the_operations_page_lists_every_metric_with_its_labels() -> None:
    rows = table(section(doc("operations.md"), "## Metrics"))
    documented = {
        row["metric"].strip("`"): (
            row["type"],
            tuple(label for label in row["labels"].split(", ") if label),
        )
        for row in rows
    }
    assert documented == exported_metrics()


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
