"""Daily reports in S3, in three forms:

- ``daily-reports/YYYY-MM-DD.json``: the report, indented for people;
- ``daily-reports/YYYY-MM-DD.html``: the same as a self-contained page;
- ``daily-reports/date=YYYY-MM-DD/report.json``: one JSON line with snake_case
  columns, the Glue table ``daily_reports`` (a table needs one record per line).

Written by the DailyReport function and by ``csv-dmap report DATE``."""

from __future__ import annotations

import json
from typing import Any

from .keys import report_keys
from .logic.daily_report import render_html, table_line


def write_report(s3: Any, bucket: str, day: str, report: dict[str, Any]) -> list[str]:
    """Write the day's report in its three forms; return the keys."""
    json_key, html_key, line_key = report_keys(day)
    s3.put_object(
        Bucket=bucket,
        Key=json_key,
        ContentType="application/json",
        Body=json.dumps(report, ensure_ascii=False, indent=2).encode(),
    )
    s3.put_object(
        Bucket=bucket, Key=html_key, ContentType="text/html; charset=utf-8", Body=render_html(report).encode()
    )
    s3.put_object(Bucket=bucket, Key=line_key, ContentType="application/json", Body=table_line(report).encode())
    return [json_key, html_key, line_key]
