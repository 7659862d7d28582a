"""The S3 key layout: every key and prefix the system writes, built here and nowhere else.

Input bucket:

    staging/<execution>/<file name>                               the normalised copy (ValidateInput)

Results bucket (and the local data directory, ``.local/data``, which keeps the same keys as files):

    results/<execution>/...                                      the map's ResultWriter files
    rows/execution_date=YYYY-MM-DD/<execution>/part-NNNNN.json.gz the per-row results dataset
    summaries/date=YYYY-MM-DD/<execution>.json                   the run summary
    rejects/execution_date=YYYY-MM-DD/<execution>.csv            the rows not applied (reject file)
    daily-reports/YYYY-MM-DD.json, .html                         the daily report, for people
    daily-reports/date=YYYY-MM-DD/report.json                    the same, one line, for the table

The ``date=`` and ``execution_date=`` segments are Hive partitions: the Glue tables
(``csv_dmap_cli.glue``) and the local DuckDB views read the partition from the path. The dates
are days in ``ReportTimezone``. The template's lifecycle rules and the state machine's
ResultWriter ``Prefix`` name the same prefixes."""

from __future__ import annotations

import posixpath

STAGING = "staging/"
RESULTS = "results/"
ROWS = "rows/"
SUMMARIES = "summaries/"
REJECTS = "rejects/"
DAILY_REPORTS = "daily-reports/"
ROW_PARTITION = "execution_date"  # the per-row dataset's and the reject files' partition
SUMMARY_PARTITION = "date"  # the run summaries' and the daily reports' table partition


def staging_prefix(execution_name: str) -> str:
    return f"{STAGING}{execution_name}/"


def staging_key(execution_name: str, source_key: str) -> str:
    return f"{staging_prefix(execution_name)}{posixpath.basename(source_key)}"


def results_prefix(execution_name: str) -> str:
    """Where the state machine's ResultWriter writes an execution's map runs (its ``Prefix``)."""
    return f"{RESULTS}{execution_name}/"


def rows_prefix(execution_date: str, execution_name: str) -> str:
    return f"{ROWS}{ROW_PARTITION}={execution_date}/{execution_name}/"


def summary_key(day: str, execution_name: str) -> str:
    return f"{summary_day_prefix(day)}{execution_name}.json"


def summary_day_prefix(day: str) -> str:
    return f"{SUMMARIES}{SUMMARY_PARTITION}={day}/"


def summary_day(key: str) -> str | None:
    """``YYYY-MM-DD`` of ``summaries/date=YYYY-MM-DD/...``, if the key is in a partition."""
    head, _, rest = key.removeprefix(SUMMARIES).partition("/")
    marker = f"{SUMMARY_PARTITION}="
    return head.removeprefix(marker) if head.startswith(marker) and rest else None


def rejects_key(execution_date: str, execution_name: str) -> str:
    return f"{REJECTS}{ROW_PARTITION}={execution_date}/{execution_name}.csv"


def report_keys(day: str) -> list[str]:
    """The daily report's three objects: JSON and HTML for people, one line for the table."""
    return [f"{DAILY_REPORTS}{day}.json", f"{DAILY_REPORTS}{day}.html", report_table_key(day)]


def report_table_key(day: str) -> str:
    return f"{DAILY_REPORTS}{SUMMARY_PARTITION}={day}/report.json"


def of_execution(key: str, execution_name: str) -> bool:
    """Whether a results-bucket key belongs to one execution (a daily report belongs to a day,
    so to every execution of it)."""
    if key.startswith(ROWS):
        return f"/{execution_name}/" in key
    if key.startswith(SUMMARIES):
        return key.endswith(f"/{execution_name}.json")
    if key.startswith(REJECTS):
        return key.endswith(f"/{execution_name}.csv")
    if key.startswith(RESULTS):
        return key.startswith(results_prefix(execution_name))
    return True


# Globs over the local data directory, which holds the results bucket's keys as files.
ROWS_FILES = f"{ROWS}{ROW_PARTITION}=*/*/*.json.gz"
SUMMARY_FILES = f"{SUMMARIES}{SUMMARY_PARTITION}=*/*.json"
REPORT_TABLE_FILES = f"{DAILY_REPORTS}{SUMMARY_PARTITION}=*/report.json"


def rows_files(execution_name: str) -> str:
    return f"{ROWS}{ROW_PARTITION}=*/{execution_name}/part-*.json.gz"


def summary_files(execution_name: str) -> str:
    return f"{SUMMARIES}{SUMMARY_PARTITION}=*/{execution_name}.json"


def rejects_files(execution_name: str) -> str:
    return f"{REJECTS}*/{execution_name}.csv"
