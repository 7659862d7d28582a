"""Where the CLI reads from: a deployed stack (AWS APIs, resources from the stack's
outputs) or the local runs' data (``.local/data``). Both answer the same questions
with the same shapes; the CLI only formats."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from csv_dmap.logic.daily_report import build_report
from csv_dmap.models import RunSummary
from csv_dmap.reports import write_report
from csv_dmap.summaries import S3Summaries, Summaries, all_summaries, summaries_of, summary_of
from local_runner.localdata import DirectorySummaries

from .progress import map_progress

if TYPE_CHECKING:
    from .engine import Note

NOT_FOUND = 1
USAGE = 2


class CliError(Exception):
    """A message for the operator and the exit code (1 not found/failed, 2 usage/config)."""

    def __init__(self, message: str, code: int = NOT_FOUND):
        super().__init__(message)
        self.message = message
        self.code = code


def stderr_note(line: str) -> None:
    """A damaged object skipped, or another thing the operator should know: one line on stderr."""
    print(f"csv-dmap: {one_line(line)}", file=sys.stderr)


def one_line(text: str) -> str:
    """``text`` as one printable line: control characters (a newline in a file name, a terminal
    escape in a damaged object) shown escaped, never acted on."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _noted(found: Summaries, note: Note) -> Summaries:
    for skipped in found.skipped:
        note(skipped.line())
    return found


class Backend(Protocol):
    def summary(self, execution: str) -> RunSummary | None: ...
    def status(self, execution: str) -> dict[str, Any]: ...
    def failures(self, execution: str) -> list[dict[str, Any]]: ...
    def history(self, user_id: str, since: datetime) -> list[dict[str, Any]]: ...
    def runs(self, day: date) -> list[RunSummary]: ...
    def report(self, day: date, timezone_name: str) -> dict[str, Any]: ...
    def redrive(self, execution: str) -> dict[str, Any]: ...


def _summary_status(summary: RunSummary) -> dict[str, Any]:
    return {"execution": summary.execution_name, "state": summary.status, "summary": summary.to_payload()}


# ------------------------------------------------------------------ local


class _LocalBucket:
    """``put_object`` into the local data directory, for ``write_report``."""

    def __init__(self, root: Path):
        self.root = root

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str = "") -> None:
        path = self.root / Key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)


class LocalBackend:
    """The local runs' data: summaries, per-row results and audit items under ``data_dir``."""

    def __init__(self, data_dir: Path, clock: Any = None, database_url: str | None = None, note: Note = stderr_note):
        if not data_dir.is_dir():
            raise CliError(f"no local data in {data_dir}: run `make run` first", USAGE)
        self.data_dir = data_dir
        self.database_url = database_url
        self.clock = clock or (lambda: datetime.now(UTC))
        self.note = note
        self.store = DirectorySummaries(data_dir)
        self._con: Any = None

    @property
    def con(self) -> Any:
        if self._con is None:
            from .engine import connect

            summaries = _noted(all_summaries(self.store), self.note)
            self._con = connect(self.data_dir, summaries=list(summaries.keys.values()), note=self.note)
        return self._con

    def summary(self, execution: str) -> RunSummary | None:
        found = _noted(summary_of(self.store, execution), self.note)
        return found.runs[0] if found.runs else None

    def _progress(self, execution: str) -> dict[str, Any] | None:
        """The running map's progress, if the runner left one that can be read."""
        from local_runner.localdata import progress_path, read_map_progress

        try:
            running = read_map_progress(execution, self.data_dir)
            return None if running is None else map_progress(running, self.clock()).to_dict()
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:  # a torn or foreign file
            key = progress_path(execution, self.data_dir).relative_to(self.data_dir).as_posix()
            self.note(f"skipped {key}: not a progress file ({type(exc).__name__}: {str(exc)[:120]})")
            return None

    def status(self, execution: str) -> dict[str, Any]:
        summary = self.summary(execution)
        progress = self._progress(execution) if summary is None else None
        if progress is not None:
            return {"execution": execution, "state": "RUNNING", "progress": progress}
        if summary is None:
            raise CliError(f"no run summary for {execution!r} in {self.data_dir} (is it still running, or mistyped?)")
        return _summary_status(summary)

    def _known(self, execution: str) -> None:
        """A clear error for an execution the local runs do not know (a typo, or another machine's)."""
        from local_runner.localdata import progress_path

        traces = (
            self.data_dir / "audit" / f"{execution}.jsonl",
            self.data_dir / "executions" / execution,
            progress_path(execution, self.data_dir),
        )
        if self.summary(execution) is None and not any(p.exists() for p in traces):
            raise CliError(f"no local execution {execution!r} in {self.data_dir} (see `csv-dmap --local runs`)")

    def failures(self, execution: str) -> list[dict[str, Any]]:
        from .engine import LocalAuditReader

        self._known(execution)
        return LocalAuditReader(self.con).failed_items(execution)

    def history(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        from .engine import LocalAuditReader

        return LocalAuditReader(self.con).user_history(user_id, since)

    def runs(self, day: date) -> list[RunSummary]:
        return sorted(_noted(summaries_of(self.store, day), self.note).runs, key=lambda s: s.start_time)

    def report(self, day: date, timezone_name: str) -> dict[str, Any]:
        found = _noted(summaries_of(self.store, day), self.note)
        report = build_report(day.isoformat(), timezone_name, found.runs, datetime.now(UTC), found.skipped)
        report["reportKeys"] = write_report(_LocalBucket(self.data_dir), "local", day.isoformat(), report)
        return report

    def redrive(self, execution: str) -> dict[str, Any]:
        """Re-run the failed and pending batches of a failed local run (``local_runner.redrive``);
        the summary of the redriven execution."""
        from asl_runner.cli import CannotRun
        from asl_runner.redrive import NotRedrivable
        from local_runner.redrive import redrive

        try:
            return redrive(execution, database_url=self.database_url, data_dir=self.data_dir)
        except NotRedrivable as exc:
            raise CliError(str(exc)) from None
        except CannotRun as exc:
            raise CliError(str(exc), USAGE) from None


# ------------------------------------------------------------------ AWS


@dataclass(frozen=True)
class StackResources:
    results_bucket: str
    audit_table: str
    state_machine_arn: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, str], stack: str) -> StackResources:
        wanted = {
            "ResultsBucketName": "results_bucket",
            "AuditTableName": "audit_table",
            "StateMachineArn": "state_machine_arn",
        }
        missing = [k for k in wanted if not outputs.get(k)]
        if missing:
            raise CliError(f"stack {stack} has no output {', '.join(missing)}: is it a csv-dmap stack?", USAGE)
        return cls(**{field: outputs[key] for key, field in wanted.items()})


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        raise CliError(f"stack {stack}: {exc.response.get('Error', {}).get('Message', exc)}", USAGE) from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


class AwsBackend:
    def __init__(
        self,
        resources: StackResources,
        *,
        s3: Any,
        dynamodb: Any,
        states: Any,
        clock: Any = None,
        note: Note = stderr_note,
    ):
        self.resources = resources
        self.s3, self.dynamodb, self.states = s3, dynamodb, states
        self.clock = clock or (lambda: datetime.now(UTC))
        self.note = note
        self.store = S3Summaries(s3, resources.results_bucket)

    def execution_arn(self, execution: str) -> str:
        return self.resources.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{execution}"

    def _describe(self, execution: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            described: dict[str, Any] = self.states.describe_execution(executionArn=self.execution_arn(execution))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                raise CliError(f"no execution {execution!r} in {self.resources.state_machine_arn}") from None
            raise
        return described

    def summary(self, execution: str, around: datetime | None = None) -> RunSummary | None:
        if around is None:  # the execution's own start, not today: a run of last month has its summary then
            try:
                started = self._describe(execution).get("startDate")
            except CliError:
                started = None
            around = started if isinstance(started, datetime) else None
        when = around or self.clock()
        # the summary's day is the start's day in the report time zone: that day, or one either side
        days = [(when + timedelta(days=offset)).date() for offset in (0, -1, 1)]
        found = _noted(summary_of(self.store, execution, days), self.note)
        return found.runs[0] if found.runs else None

    def status(self, execution: str) -> dict[str, Any]:
        described = self._describe(execution)
        state = str(described.get("status"))
        if state == "RUNNING":
            runs = self.states.list_map_runs(executionArn=described["executionArn"]).get("mapRuns", [])
            if not runs:
                return {"execution": execution, "state": state, "progress": None}
            map_run = self.states.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
            return {"execution": execution, "state": state, "progress": map_progress(map_run, self.clock()).to_dict()}
        summary = self.summary(execution, described.get("startDate"))
        if summary is None:
            return {
                "execution": execution,
                "state": state,
                "summary": None,
                "error": described.get("error"),
                "cause": described.get("cause"),
            }
        return _summary_status(summary)

    def failures(self, execution: str) -> list[dict[str, Any]]:
        from csv_dmap.audit import AuditLogReader

        self._describe(execution)  # an unknown execution is an error, not an empty list
        return AuditLogReader(self.dynamodb, self.resources.audit_table).failed_items(execution)

    def history(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        from csv_dmap.audit import AuditLogReader

        return AuditLogReader(self.dynamodb, self.resources.audit_table).user_history(user_id, since)

    def runs(self, day: date) -> list[RunSummary]:
        return sorted(_noted(summaries_of(self.store, day), self.note).runs, key=lambda s: s.start_time)

    def report(self, day: date, timezone_name: str) -> dict[str, Any]:
        found = _noted(summaries_of(self.store, day), self.note)
        report = build_report(day.isoformat(), timezone_name, found.runs, self.clock(), found.skipped)
        report["reportKeys"] = write_report(self.s3, self.resources.results_bucket, day.isoformat(), report)
        return report

    def redrive(self, execution: str) -> dict[str, Any]:
        """RedriveExecution, unless AWS would restart the execution at a Fail state (a rejected file,
        rows over the tolerance): such a redrive "reenters the Fail state and fails again", so it is
        refused here with the reason (``csv_dmap.logic.redrive``)."""
        from botocore.exceptions import ClientError

        from csv_dmap.logic.redrive import redrive_blocker, restart_point

        described = self._describe(execution)
        arn = described["executionArn"]
        events = self.states.get_execution_history(
            executionArn=arn, reverseOrder=True, includeExecutionData=False, maxResults=100
        ).get("events", [])
        why_not = redrive_blocker(
            execution, str(described.get("status")), described.get("error"), restart_point(events)
        )
        if why_not:
            raise CliError(why_not)
        try:
            answer = self.states.redrive_execution(executionArn=arn)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CliError(f"cannot redrive {execution}: {error.get('Code')}: {error.get('Message')}") from None
        return {"execution": execution, "executionArn": arn, "redriveDate": str(answer.get("redriveDate"))}
