"""Medians over the reps, the ratios the targets are stated in, and the markdown table."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

PHASES = ("initial", "no-change", "change-1", "change-10", "rate-limited")
RSS_TARGET_MB = 200.0


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per (provider, phase, method): medians, min and max; then ratios and targets."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in results["runs"]:
        groups[run["provider"], run["phase"], run["method"]].append(run)
    rows = []
    for (provider, phase, method), runs in groups.items():
        ok = [r for r in runs if "error" not in r and "over_cap" not in r]
        walls = [r["wall"] for r in ok]
        row: dict[str, Any] = {
            "provider": provider,
            "phase": phase,
            "method": method,
            "reps": len(runs),
            "failed": [r["error"] for r in runs if "error" in r],
            "over_cap": next((r["over_cap"] for r in runs if "over_cap" in r), None),
            "wall": _median(walls),
            "wall_min": min(walls, default=None),
            "wall_max": max(walls, default=None),
        }
        for name in ("records", "cpu", "cpu_sims", "cpu_pg", "rss_mb", "rows_total", "rows_data",
                     "floor"):  # fmt: skip
            row[name] = _median([r[name] for r in ok if r.get(name) is not None])
        row["events"] = _median([r["events_emitted"] for r in ok if "events_emitted" in r])
        row["sql"] = _median([r["sql_statements"] for r in ok if r["sql_statements"] is not None])
        for kind in ("list", "detail", "other"):
            row[f"http_{kind}"] = _median([r["http"].get(kind, 0) for r in ok])
        if row["wall"] and row["records"]:
            row["rate"] = row["records"] / row["wall"]
        rows.append(row)
    return {"rows": rows, "targets": _targets(rows)}


def _targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(r["provider"], r["phase"], r["method"]): r for r in rows}
    providers = sorted({r["provider"] for r in rows}, key=_provider_order)
    found = []

    def ratio(provider: str, phase: str, top: str, bottom: str) -> float | None:
        a, b = by.get((provider, phase, top)), by.get((provider, phase, bottom))
        if not a or not b or not a["wall"] or not b["wall"]:
            return None
        return float(a["wall"] / b["wall"])

    for p in providers:
        cs = {phase: by.get((p, phase, "campaign-sync")) for phase in PHASES}

        def add(
            name: str, value: float | None, limit: float, *, at_least: bool, p: str = p
        ) -> None:
            met = None if value is None else value >= limit if at_least else value <= limit
            sign = "≥" if at_least else "≤"
            found.append({"provider": p, "target": f"{name} {sign} {limit:g}", "value": value,
                          "met": met})  # fmt: skip

        fetch = ratio(p, "initial", "fetch-only", "campaign-sync")
        add("initial: throughput ÷ fetch-only's", fetch, 0.7, at_least=True)
        dlt = ratio(p, "initial", "dlt-merge", "campaign-sync")
        over = by.get((p, "initial", "dlt-merge"))
        if dlt is None and over and over["over_cap"]:
            dlt = over["over_cap"] / cs["initial"]["wall"] if cs["initial"] else None
        add("initial: throughput ÷ dlt merge's", dlt, 8, at_least=True)
        add("no-change: time ÷ fetch-only's", ratio(p, "no-change", "campaign-sync",
            "fetch-only"), 1.15, at_least=False)  # fmt: skip
        quiet = cs["no-change"]
        if quiet:
            writes = (
                (quiet["rows_data"] or 0) + (quiet["events"] or 0) + (quiet["http_detail"] or 0)
            )
            add("no-change: campaign, history and event rows + detail requests", writes, 0,
                at_least=False)  # fmt: skip
        add("change-1: time ÷ fetch-only's", ratio(p, "change-1", "campaign-sync", "fetch-only"),
            1.3, at_least=False)  # fmt: skip
        limited = cs["rate-limited"]
        if limited and limited["floor"] and limited["wall"]:
            add("rate-limited: time ÷ floor", limited["wall"] / limited["floor"], 1.05,
                at_least=False)  # fmt: skip
        peak = max((c["rss_mb"] for c in cs.values() if c and c["rss_mb"]), default=None)
        add("peak RSS, MB", peak, RSS_TARGET_MB, at_least=False)
    return found


def _provider_order(provider: str) -> int:
    order = ("vox_v3", "vox_v2", "voxo", "sarvam")
    return order.index(provider) if provider in order else len(order)


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.{digits}f}"


def _wall(row: dict[str, Any]) -> str:
    if row["failed"] and row["wall"] is None:
        return "failed"
    if row["over_cap"] and row["wall"] is None:
        return f"over the cap ({row['over_cap']:g} s)"
    spread = f" ({_num(row['wall_min'])}–{_num(row['wall_max'])})" if row["reps"] > 1 else ""
    return _num(row["wall"]) + spread


def markdown(results: dict[str, Any]) -> str:
    summary = results["summary"]
    opts = results["options"]
    db = results["database"]
    lines = [
        f"Command: `{results['command']}`  ",
        f"Date: {results['date']}; {results['machine']['cores']} cores, "
        f"{results['machine']['memory_gib']} GiB, Python {results['machine']['python']}; "
        f"PostgreSQL {db.get('server_version')} ({db['kind']}, autovacuum "
        f"{db.get('autovacuum')}).  ",
        f"{opts['n']} campaigns per provider, medians of {opts['reps']} reps (min–max); "
        f"rate-limited phase: {opts['rate_n']} campaigns at {opts['rate']:g} requests/s.",
        "",
        "| provider | phase | method | wall s | campaigns/s | CPU s client / sims / PG "
        "| peak RSS MB | rows written: data / all | events | HTTP list / detail | SQL statements |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = sorted(
        summary["rows"],
        key=lambda r: (_provider_order(r["provider"]), PHASES.index(r["phase"]), r["method"]),
    )
    for r in rows:
        cpu = f"{_num(r['cpu'], 1)} / {_num(r['cpu_sims'], 1)} / {_num(r['cpu_pg'], 1)}"
        http = f"{_num(r['http_list'], 0)} / {_num(r['http_detail'], 0)}"
        lines.append(
            f"| {r['provider']} | {r['phase']} | {r['method']} | {_wall(r)} | "
            f"{_num(r.get('rate'), 0)} | {cpu} | {_num(r['rss_mb'], 0)} | "
            f"{_num(r['rows_data'], 0)} / {_num(r['rows_total'], 0)} | {_num(r['events'], 0)} | "
            f"{http} | {_num(r['sql'], 0)} |"
        )
    lines += ["", "| provider | target | figure | met |", "| --- | --- | --- | --- |"]
    for t in summary["targets"]:
        met = "–" if t["met"] is None else "yes" if t["met"] else "**no**"
        lines.append(f"| {t['provider']} | {t['target']} | {_num(t['value'])} | {met} |")
    return "\n".join(lines) + "\n"
