"""The local query engine: DuckDB views over ``.local/data`` with the Glue tables'
names and columns, so the named queries (``queries/*.sql``) run unchanged here and
in Athena.

- ``user_update_results``: the per-row results (``rows/execution_date=.../*.json.gz``);
- ``run_summaries``: one line per run (``summaries/date=.../*.json``);
- ``daily_reports``: one line per day (``daily-reports/date=.../report.json``);
- ``audit_log``: the audit items the local runs exported (DynamoDB in AWS, not a Glue table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from csv_dmap.logic.daily_report import TABLE_COLUMNS as REPORT_COLUMNS
from csv_dmap.row_results import COLUMNS as ROW_COLUMNS
from csv_dmap.row_results import PARTITION as ROW_PARTITION
from csv_dmap.summaries import TABLE_COLUMNS as SUMMARY_COLUMNS

QUERIES_DIR = Path(__file__).parent / "queries"

# The audit items' attributes (contract 5) -> (view column, DuckDB type).
AUDIT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("execution_name", "VARCHAR", "executionName"),
    ("line", "BIGINT", "line"),
    ("row_index", "BIGINT", "rowIndex"),
    ("user_id", "VARCHAR", "userId"),
    ("raw_user_id", "VARCHAR", "rawUserId"),
    ("status", "VARCHAR", "status"),
    ("timestamp", "VARCHAR", "timestamp"),
    ("old_login_count", "BIGINT", "oldLoginCount"),
    ("new_login_count", "BIGINT", "newLoginCount"),
    ("old_post_count", "BIGINT", "oldPostCount"),
    ("new_post_count", "BIGINT", "newPostCount"),
    ("error_type", "VARCHAR", "errorType"),
    ("error_message", "VARCHAR", "errorMessage"),
    ("superseded_by", "BIGINT", "supersededBy"),
    ("source_key", "VARCHAR", "sourceKey"),
)


@dataclass(frozen=True)
class NamedQuery:
    file: str  # file stem, e.g. monthly_increase
    name: str  # the -- name: header
    description: str
    sql: str  # the whole file, comments included (what Athena stores)

    @property
    def parameters(self) -> int:
        return self.sql.count("?")


def named_queries() -> list[NamedQuery]:
    """The named queries, in file-name order: one place for Athena and DuckDB."""
    found = []
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        meta = {}
        for line in text.splitlines():
            if line.startswith("-- ") and ":" in line:
                key, _, value = line[3:].partition(":")
                meta[key.strip()] = value.strip()
        found.append(NamedQuery(path.stem, meta.get("name", path.stem), meta.get("description", ""), text.strip()))
    return found


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _struct(columns: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{_quote(key)}: {_quote(kind)}" for key, kind in columns) + "}"


def _empty(columns: Sequence[tuple[str, str]]) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns) + " WHERE false"


def _view_rows(data: Path) -> str:
    columns = [(name, duck) for name, _, duck in ROW_COLUMNS]
    out = [*columns, (ROW_PARTITION[0], ROW_PARTITION[2])]
    files = sorted(data.glob("rows/execution_date=*/*/*.json.gz"))
    if not files:
        return _empty(out)
    names = ", ".join(name for name, _ in out)
    return (
        f"SELECT {names} FROM read_json({_quote(str(data / 'rows/execution_date=*/*/*.json.gz'))}, "
        f"format='newline_delimited', columns={_struct(columns)}, hive_partitioning=true, "
        f"hive_types={{'execution_date': 'VARCHAR'}})"
    )


def _view_summaries(data: Path) -> str:
    out = [(name, duck) for name, _, duck, _ in SUMMARY_COLUMNS] + [("execution_date", "VARCHAR")]
    if not any(data.glob("summaries/date=*/*.json")):
        return _empty(out)
    keys = [(key, duck) for _, _, duck, key in SUMMARY_COLUMNS] + [("date", "VARCHAR")]
    select = ", ".join(f'"{key}" AS {name}' for (name, _), (key, _) in zip(out, keys, strict=True))
    return (
        f"SELECT {select} FROM read_json({_quote(str(data / 'summaries/date=*/*.json'))}, "
        f"format='newline_delimited', columns={_struct(keys)}, hive_partitioning=false)"
    )


def _view_reports(data: Path) -> str:
    columns = [(name, duck) for name, _, duck, _ in REPORT_COLUMNS]
    out = [*columns, ("report_date", "VARCHAR")]
    if not any(data.glob("daily-reports/date=*/report.json")):
        return _empty(out)
    select = ", ".join(name for name, _ in columns)
    return (
        f'SELECT {select}, "date" AS report_date FROM read_json('
        f"{_quote(str(data / 'daily-reports/date=*/report.json'))}, format='newline_delimited', "
        f"columns={_struct(columns)}, hive_partitioning=true, hive_types={{'date': 'VARCHAR'}})"
    )


def _view_audit(data: Path) -> str:
    out = [(name, duck) for name, duck, _ in AUDIT_COLUMNS]
    if not any(data.glob("audit/*.jsonl")):
        return _empty(out)
    keys = [(key, duck) for _, duck, key in AUDIT_COLUMNS]
    select = ", ".join(f'"{key}" AS {name}' for name, _, key in AUDIT_COLUMNS)
    return (
        f"SELECT {select} FROM read_json({_quote(str(data / 'audit/*.jsonl'))}, "
        f"format='newline_delimited', columns={_struct(keys)})"
    )


VIEWS = {
    "user_update_results": _view_rows,
    "run_summaries": _view_summaries,
    "daily_reports": _view_reports,
    "audit_log": _view_audit,
}


def connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the four views over ``data_dir``."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    for name, view in VIEWS.items():
        con.execute(f"CREATE VIEW {name} AS {view(data_dir)}")
    return con


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_query(con: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[Any] = ()) -> QueryResult:
    cursor = con.execute(sql, list(parameters)) if parameters else con.execute(sql)
    columns = [d[0] for d in cursor.description or []]
    return QueryResult(columns, cursor.fetchall())


class LocalAuditReader:
    """The local counterpart of ``csv_dmap.audit.AuditLogReader`` (same two methods,
    same camelCase dicts), over the audit items the local runs exported."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def _select(self, where: str, order: str, parameters: Sequence[Any]) -> list[dict[str, Any]]:
        select = ", ".join(f'{name} AS "{key}"' for name, _, key in AUDIT_COLUMNS)
        result = run_query(self.con, f"SELECT {select} FROM audit_log WHERE {where} ORDER BY {order}", parameters)
        return [{k: v for k, v in r.items() if v is not None} for r in result.records()]

    def user_history(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        return self._select(
            "user_id = ? AND timestamp >= ?",
            "timestamp DESC, execution_name DESC, line DESC",
            [user_id, since.isoformat()],
        )

    def failed_items(self, execution_name: str) -> list[dict[str, Any]]:
        return self._select("execution_name = ? AND status = 'FAILED'", "line, row_index", [execution_name])
