"""The local query engine: DuckDB views over ``.local/data`` with the Glue tables'
names and columns, so the named queries (``queries/*.sql``) run unchanged here and
in Athena.

- ``user_update_results``: the per-row results (``rows/execution_date=.../*.json.gz``);
- ``run_summaries``: one line per run (``summaries/date=.../*.json``), the summaries
  ``csv_dmap.summaries.read_summaries`` accepts (the one reader of summaries);
- ``daily_reports``: one line per day (``daily-reports/date=.../report.json``);
- ``audit_log``: the audit items the local runs exported (DynamoDB in AWS, not a Glue table).

Each view reads the exact files found when the engine starts (never a pattern built from
a path the user gave). A damaged file does not stop a query: a file DuckDB cannot read
is left out and named, and an audit export with damaged lines is read without them.

What an analyst's SQL (``csv-dmap query``) may do, enforced by DuckDB's own settings
(https://duckdb.org/docs/stable/operations_manual/securing_duckdb/overview): read the local
data directory, nothing else. Once the views exist, ``enable_external_access`` is off with
``allowed_directories`` = the data directory (no other file, no network, no extension
install), ``lock_configuration`` is on (no ``SET`` gives any of it back), and a query is one
``SELECT`` (or ``EXPLAIN``) statement as DuckDB's parser classifies it: ``COPY``, ``ATTACH``,
``EXPORT``, ``INSTALL``/``LOAD``, ``CREATE``/``INSERT``, ``SET``, ``PRAGMA`` and ``CALL`` are
refused, so nothing is written, not even inside the data directory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from csv_dmap import keys
from csv_dmap.logic.daily_report import TABLE_COLUMNS as REPORT_COLUMNS
from csv_dmap.row_results import COLUMNS as ROW_COLUMNS
from csv_dmap.row_results import PARTITION as ROW_PARTITION
from csv_dmap.summaries import TABLE_COLUMNS as SUMMARY_COLUMNS

Note = Callable[[str], None]  # where a skipped file is told: the CLI prints it on stderr

QUERIES_DIR = Path(__file__).parent / "queries"

# The audit items' attributes (csv_dmap.audit.item_record) -> (view column, DuckDB type, attribute).
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
        return parameter_count(self.sql)

    @property
    def usage(self) -> str:
        values = " ".join(f"--param VALUE{i}" for i in range(1, self.parameters + 1))
        return f"csv-dmap --local query --named {self.name} {values}".rstrip()


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


def parameter_count(sql: str) -> int:
    """How many values the query's ``?`` placeholders take, as DuckDB's parser counts them
    (a ``?`` in a comment or a string is not one)."""
    try:
        statements = duckdb.connect(":memory:").extract_statements(sql)
    except duckdb.Error:
        return 0  # the query itself will say what is wrong with it
    return sum(len(s.named_parameters) for s in statements)


class QueryRefused(ValueError):
    """An analyst's SQL that the engine does not run (one line: what, and why)."""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files(paths: Sequence[Path]) -> str:
    return "[" + ", ".join(_quote(str(p)) for p in paths) + "]"


def _struct(columns: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{_quote(key)}: {_quote(kind)}" for key, kind in columns) + "}"


def _empty(columns: Sequence[tuple[str, str]]) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns) + " WHERE false"


def _view_rows(files: Sequence[Path], lenient: Sequence[Path]) -> str:
    columns = [(name, duck) for name, _, duck in ROW_COLUMNS]
    out = [*columns, (ROW_PARTITION[0], ROW_PARTITION[2])]
    if not files:
        return _empty(out)
    names = ", ".join(name for name, _ in out)
    return (
        f"SELECT {names} FROM read_json({_files(files)}, "
        f"format='newline_delimited', columns={_struct(columns)}, hive_partitioning=true, "
        f"hive_types={{'execution_date': 'VARCHAR'}})"
    )


def _view_summaries(files: Sequence[Path], lenient: Sequence[Path]) -> str:
    out = [(name, duck) for name, _, duck, _ in SUMMARY_COLUMNS] + [("execution_date", "VARCHAR")]
    if not files:
        return _empty(out)
    keys = [(key, duck) for _, _, duck, key in SUMMARY_COLUMNS] + [("date", "VARCHAR")]
    select = ", ".join(f'"{key}" AS {name}' for (name, _), (key, _) in zip(out, keys, strict=True))
    return (
        f"SELECT {select} FROM read_json({_files(files)}, "
        f"format='newline_delimited', columns={_struct(keys)}, hive_partitioning=false)"
    )


def _view_reports(files: Sequence[Path], lenient: Sequence[Path]) -> str:
    columns = [(name, duck) for name, _, duck, _ in REPORT_COLUMNS]
    out = [*columns, ("report_date", "VARCHAR")]
    if not files:
        return _empty(out)
    select = ", ".join(name for name, _ in columns)
    return (
        f'SELECT {select}, "date" AS report_date FROM read_json('
        f"{_files(files)}, format='newline_delimited', "
        f"columns={_struct(columns)}, hive_partitioning=true, hive_types={{'date': 'VARCHAR'}})"
    )


def _view_audit(files: Sequence[Path], lenient: Sequence[Path]) -> str:
    """The exported audit items; from an export with damaged lines (``lenient``), the lines
    DuckDB can read (``ignore_errors``: a damaged line reads as nulls and is left out)."""
    out = [(name, duck) for name, duck, _ in AUDIT_COLUMNS]
    strict = [f for f in files if f not in lenient]
    if not files:
        return _empty(out)
    keys = _struct([(key, duck) for _, duck, key in AUDIT_COLUMNS])
    select = ", ".join(f'"{key}" AS {name}' for name, _, key in AUDIT_COLUMNS)
    parts = []
    if strict:
        parts.append(f"SELECT {select} FROM read_json({_files(strict)}, format='newline_delimited', columns={keys})")
    if lenient:
        parts.append(
            f"SELECT {select} FROM read_json({_files(lenient)}, format='newline_delimited', columns={keys}, "
            f'ignore_errors=true) WHERE "executionName" IS NOT NULL AND "status" IS NOT NULL'
        )
    return " UNION ALL ".join(parts)


# Each view: the files it reads (relative to the data directory) and how.
VIEWS: dict[str, tuple[str, Callable[[Sequence[Path], Sequence[Path]], str]]] = {
    "user_update_results": (keys.ROWS_FILES, _view_rows),
    "run_summaries": (keys.SUMMARY_FILES, _view_summaries),
    "daily_reports": (keys.REPORT_TABLE_FILES, _view_reports),
    "audit_log": ("audit/*.jsonl", _view_audit),
}
# Lines of these views' files can be damaged one by one (JSON Lines written as a run goes).
LINE_BY_LINE = {"audit_log"}
ANALYST_STATEMENTS = {"SELECT", "EXPLAIN"}


@dataclass
class _View:
    name: str
    files: list[Path]
    lenient: list[Path] = field(default_factory=list)


class LocalData:
    """An in-memory DuckDB with the four views over a data directory, locked to it."""

    def __init__(self, data_dir: Path, summaries: Sequence[str] | None = None, note: Note | None = None):
        self.data_dir = data_dir.resolve()
        self.notes: list[str] = []
        self.note: Note = note or self.notes.append
        if summaries is None:  # the summaries the one reader accepts
            from csv_dmap.summaries import all_summaries
            from local_runner.localdata import DirectorySummaries

            found = all_summaries(DirectorySummaries(self.data_dir))
            for skipped in found.skipped:
                self.note(skipped.line())
            summaries = list(found.keys.values())
        self.views: dict[str, _View] = {}
        for name, (pattern, _) in VIEWS.items():
            files = (
                [self.data_dir / key for key in sorted(summaries)]
                if name == "run_summaries"
                else sorted(self.data_dir.glob(pattern))
            )
            self.views[name] = _View(name, files)
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        for view in self.views.values():
            self._create(view)
        self._lock()

    def _create(self, view: _View) -> None:
        build = VIEWS[view.name][1]
        self.con.execute(f"CREATE OR REPLACE VIEW {view.name} AS {build(view.files, view.lenient)}")

    def _lock(self) -> None:
        self.con.execute(f"SET allowed_directories = [{_quote(str(self.data_dir) + '/')}]")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def _relative(self, text: str) -> str:
        return text.replace(str(self.data_dir) + "/", "")

    def _damaged(self, message: str) -> tuple[_View, Path] | None:
        """The view file a DuckDB error names (the longest match: ``a.json`` is not ``a.json.gz``)."""
        named = [(len(str(f)), view, f) for view in self.views.values() for f in view.files if str(f) in message]
        if not named:
            return None
        _, view, path = max(named, key=lambda found: found[0])
        return view, path

    def _leave_out(self, view: _View, path: Path, message: str) -> None:
        why = self._relative(message.splitlines()[0] if message else "unreadable")
        key = path.relative_to(self.data_dir).as_posix()
        if view.name in LINE_BY_LINE and path not in view.lenient:
            view.lenient.append(path)
            self.note(f"{key} is damaged ({why}); its unreadable lines are left out")
        else:
            view.files.remove(path)
            if path in view.lenient:
                view.lenient.remove(path)
            self.note(f"skipped {key}: {why}")
        self._create(view)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> QueryResult:
        """Run trusted SQL (the engine's own, the named queries); a file of a view that DuckDB
        cannot read is left out (and named) and the query runs again."""
        attempts = 1 + 2 * sum(len(v.files) for v in self.views.values())
        for _ in range(attempts):
            try:
                cursor = self.con.execute(sql, list(parameters)) if parameters else self.con.execute(sql)
            except duckdb.Error as exc:
                damaged = self._damaged(str(exc))
                if damaged is None:
                    raise
                self._leave_out(*damaged, str(exc))
                continue
            columns = [d[0] for d in cursor.description or []]
            return QueryResult(columns, cursor.fetchall())
        raise QueryRefused("the query kept failing on damaged files")  # unreachable: each retry leaves one out

    def analyse(self, sql: str, parameters: Sequence[Any] = ()) -> QueryResult:
        """An analyst's SQL: one read-only statement (see the module's docstring)."""
        statements = self.con.extract_statements(sql)  # a syntax error is DuckDB's to name
        if len(statements) != 1:
            raise QueryRefused(f"one SQL statement at a time, got {len(statements)}")
        kind = statements[0].type.name
        if kind not in ANALYST_STATEMENTS:
            raise QueryRefused(
                f"{kind} is not allowed: a query reads the local data (SELECT or EXPLAIN) and writes nothing"
            )
        wanted = len(statements[0].named_parameters)
        if wanted != len(parameters):
            raise QueryRefused(f"the query takes {wanted} parameter(s) (--param), got {len(parameters)}")
        return self.execute(sql, parameters)


def connect(data_dir: Path, summaries: Sequence[str] | None = None, note: Note | None = None) -> LocalData:
    """The engine over ``data_dir`` (``summaries``: the summary keys to read; by default the
    ones ``csv_dmap.summaries`` accepts in that directory)."""
    return LocalData(data_dir, summaries, note)


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_query(data: LocalData, sql: str, parameters: Sequence[Any] = ()) -> QueryResult:
    return data.execute(sql, parameters)


class LocalAuditReader:
    """The local counterpart of ``csv_dmap.audit.AuditLogReader`` (same two methods,
    same camelCase dicts), over the audit items the local runs exported."""

    def __init__(self, con: LocalData):
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
