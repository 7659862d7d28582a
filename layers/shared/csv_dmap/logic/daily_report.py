"""The daily report: one day's run summaries aggregated, as JSON and as a
self-contained HTML page with an SVG chart.

The summaries come from ``csv_dmap.summaries.read_summaries``: one per execution, each with
numbers a run can have. The objects it skipped (damaged, or a second copy of a run) are
listed in the report (``skippedSummaries``) and its message, so a reader knows the day's
totals leave them out."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..keys import report_table_key
from ..models import RunSummary
from ..summaries import Skipped

SLOWEST = 5


COUNTED = ("failed", "superseded", "skipped", "pending")


def _run_line(s: RunSummary) -> dict[str, Any]:
    return {
        "executionName": s.execution_name,
        "startTime": s.start_time,
        "status": s.status,
        "error": s.error,
        "sourceKey": s.source_key,
        "rows": s.rows,
        "applied": s.applied,
        "failed": s.failed,
        "superseded": s.superseded,
        "skipped": s.skipped,
        "pending": s.pending,
        "errorRate": s.error_rate,
        "severity": s.severity.value,
        "durationSeconds": s.duration_seconds,
    }


def _slow_line(s: RunSummary) -> dict[str, Any]:
    return {
        "executionName": s.execution_name,
        "durationSeconds": s.duration_seconds,
        "rows": s.rows,
        "rowsPerSecond": round(s.rows_per_second, 1),
        "status": s.status,
    }


def build_report(
    day: str,
    timezone: str,
    summaries: Iterable[RunSummary],
    generated_at: datetime,
    skipped: Sequence[Skipped] = (),
) -> dict[str, Any]:
    runs = sorted(summaries, key=lambda s: s.start_time)
    errors: Counter[str] = Counter()
    for s in runs:
        errors.update(s.errors_by_type)
    rows = sum(s.rows for s in runs)
    applied = sum(s.applied for s in runs)
    succeeded = sum(1 for s in runs if s.status == "SUCCEEDED")
    report: dict[str, Any] = {
        "date": day,
        "timezone": timezone,
        "generatedAt": generated_at.isoformat(),
        "executions": len(runs),
        "succeededExecutions": succeeded,
        "failedExecutions": len(runs) - succeeded,
        "rows": rows,
        "applied": applied,
        **{name: sum(getattr(s, name) for s in runs) for name in COUNTED},
        "successRate": round(100.0 * applied / rows, 3) if rows else None,
        "errorsByType": dict(errors.most_common()),
        "slowestRuns": [_slow_line(s) for s in sorted(runs, key=lambda s: s.duration_seconds, reverse=True)[:SLOWEST]],
        "runs": [_run_line(s) for s in runs],
        "skippedSummaries": [s.to_payload() for s in skipped],
    }
    report["message"] = (
        f"No csv-dmap runs on {day} ({timezone})."
        if not runs
        else f"{len(runs)} run(s) on {day}: {applied:,} of {rows:,} rows applied "
        f"({report['successRate']:.2f}%), {report['failedExecutions']} execution(s) failed."
    ) + (f" {len(skipped)} object(s) under summaries/ skipped (see skippedSummaries)." if skipped else "")
    return report


# The columns of the Glue table ``daily_reports`` (one line per day, snake_case):
# (column, Glue type, DuckDB type, report key).
TABLE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("report_timezone", "string", "VARCHAR", "timezone"),
    ("generated_at", "string", "VARCHAR", "generatedAt"),
    ("executions", "bigint", "BIGINT", "executions"),
    ("succeeded_executions", "bigint", "BIGINT", "succeededExecutions"),
    ("failed_executions", "bigint", "BIGINT", "failedExecutions"),
    ("total_rows", "bigint", "BIGINT", "rows"),
    ("applied", "bigint", "BIGINT", "applied"),
    ("failed", "bigint", "BIGINT", "failed"),
    ("superseded", "bigint", "BIGINT", "superseded"),
    ("skipped", "bigint", "BIGINT", "skipped"),
    ("pending", "bigint", "BIGINT", "pending"),
    ("success_rate", "double", "DOUBLE", "successRate"),
    ("errors_by_type", "map<string,bigint>", "MAP(VARCHAR, BIGINT)", "errorsByType"),
    ("message", "string", "VARCHAR", "message"),
)


def table_key(day: str) -> str:
    """The table-friendly copy of a day's report: ``daily-reports/date=YYYY-MM-DD/report.json``
    (the report itself, ``daily-reports/YYYY-MM-DD.json``, is indented for people)."""
    return report_table_key(day)


def table_line(report: dict[str, Any]) -> str:
    """The report as one JSON line with the table's snake_case columns (the day is the partition)."""
    row = {column: report.get(key) for column, _, _, key in TABLE_COLUMNS}
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def render_text(report: dict[str, Any], links: dict[str, str]) -> str:
    lines = [report["message"]]
    if report["executions"]:
        lines.append(
            "Errors by type: " + (", ".join(f"{k} {v:,}" for k, v in report["errorsByType"].items()) or "none")
        )
        slow = report["slowestRuns"][0]
        lines.append(f"Slowest run: {slow['executionName']} {slow['durationSeconds']:.0f} s for {slow['rows']:,} rows")
        failed = [r["executionName"] for r in report["runs"] if r["status"] != "SUCCEEDED"]
        if failed:
            lines.append("Failed executions: " + ", ".join(failed))
    lines += [f"Skipped {s['key']}: {s['reason']}" for s in report.get("skippedSummaries", [])]
    lines += [f"{name}: {uri}" for name, uri in links.items()]
    return "\n".join(lines)


def _chart(runs: list[dict[str, Any]]) -> str:
    """Horizontal stacked bars: applied (green) and failed (red) rows per run."""
    if not runs:
        return ""
    width, bar_h, gap, label_w = 720, 18, 8, 230
    top = max(r["rows"] for r in runs) or 1
    height = len(runs) * (bar_h + gap) + 30
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="rows applied and failed per run">'
        )
    ]
    for i, r in enumerate(runs):
        y = i * (bar_h + gap) + 10
        scale = (width - label_w - 80) / top
        ok_w, bad_w = r["applied"] * scale, (r["rows"] - r["applied"]) * scale
        name = html.escape(r["executionName"][:32])
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{name}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{ok_w:.1f}" height="{bar_h}" fill="#2e7d32"/>')
        parts.append(f'<rect x="{label_w + ok_w:.1f}" y="{y}" width="{bad_w:.1f}" height="{bar_h}" fill="#c62828"/>')
        parts.append(
            f'<text x="{label_w + ok_w + bad_w + 6:.1f}" y="{y + 13}" font-size="12">'
            f"{r['rows']:,} ({r['errorRate']:.1f}% failed)</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r['executionName'])}</td><td>{e(r['status'])}</td><td>{r['rows']:,}</td><td>{r['applied']:,}</td>"
        f"<td>{r['failed']:,}</td><td>{r['errorRate']:.2f}%</td><td>{r['durationSeconds']:.1f} s</td></tr>"
        for r in report["runs"]
    )
    errors = "".join(f"<tr><td>{e(k)}</td><td>{v:,}</td></tr>" for k, v in report["errorsByType"].items())
    slow = "".join(
        f"<tr><td>{e(r['executionName'])}</td><td>{r['durationSeconds']:.1f} s</td><td>{r['rowsPerSecond']:,.0f}</td></tr>"
        for r in report["slowestRuns"]
    )
    body = f"<p>{e(report['message'])}</p>"
    skipped = "".join(
        f"<tr><td>{e(s['key'])}</td><td>{e(s['reason'])}</td></tr>" for s in report.get("skippedSummaries", [])
    )
    if skipped:
        body += f"<h2>Skipped summaries</h2><table><tr><th>object</th><th>why</th></tr>{skipped}</table>"
    if report["executions"]:
        body += (
            f"<h2>Rows per run</h2>{_chart(report['runs'])}"
            f"<h2>Runs</h2><table><tr><th>execution</th><th>status</th><th>rows</th><th>applied</th><th>failed</th>"
            f"<th>error rate</th><th>duration</th></tr>{rows}</table>"
            f"<h2>Errors by type</h2><table><tr><th>type</th><th>rows</th></tr>{errors or '<tr><td>none</td><td>0</td></tr>'}</table>"
            f"<h2>Slowest runs</h2><table><tr><th>execution</th><th>duration</th><th>rows/s</th></tr>{slow}</table>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>csv-dmap daily report {e(report['date'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style>"
        f"</head><body><h1>csv-dmap daily report — {e(report['date'])} ({e(report['timezone'])})</h1>{body}</body></html>\n"
    )
