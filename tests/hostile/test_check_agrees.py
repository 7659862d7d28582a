"""``csv-dmap check`` agrees with a run over the hostile corpus: for every generated file, the
same rejection (name and Cause) as ValidateInput (``validate_object`` on moto S3), or the same
failed lines, by error type, and the same superseded lines as the worker (``apply_batch`` on
SQLite, every valid user known) reports for the copy as Step Functions' reader hands it over."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import event, example, given

from csv_dmap.db import StatsRepository, build_engine, create_schema, seed_users
from csv_dmap.errors import InputRejected
from csv_dmap.input_files import validate_object
from csv_dmap.logic.apply_batch import apply_batch
from csv_dmap.models import MAX_ITEMS_PER_BATCH, RunInput, WorkerEvent, is_valid_user_id
from csv_dmap.models.records import AuditReport
from csv_dmap_cli.check import check_file
from tests.hostile.strategies import hostile_file
from tests.hostile.test_hostile_files import LIMITS, aws_csv


class _Audit:
    """An audit log that takes every item (the audit path is not what this test compares)."""

    def write_results_report(self, results: Sequence[Mapping[str, Any]], **_: Any) -> AuditReport:
        return AuditReport()


def _run(bucket: Any, data: bytes, db_dir: str) -> tuple[str | None, str | None, dict[str, list[int]], list[int]]:
    """(rejection, Cause) of ValidateInput, else the worker's failed lines by type and superseded lines."""
    key = bucket.put(data)
    try:
        result = validate_object(bucket.s3, RunInput(bucket=bucket.name, key=key), "hostile", 10**9, limits=LIMITS)
    except InputRejected as exc:
        return type(exc).__name__, str(exc), {}, []
    records = aws_csv(bucket.read(result.key))
    names, rows = records[0], records[1:]
    engine = build_engine(f"sqlite:///{db_dir}/db.sqlite")
    create_schema(engine)
    seed_users(engine, {r[0].strip() for r in rows if is_valid_user_id(r[0].strip())})
    failed: dict[str, list[int]] = defaultdict(list)
    superseded: list[int] = []
    try:
        for start in range(0, len(rows), MAX_ITEMS_PER_BATCH):
            items = [{"index": i, "row": dict(zip(names, r, strict=True))} for i, r in enumerate(rows) if i >= start]
            event_ = WorkerEvent.model_validate(
                {"Items": items[:MAX_ITEMS_PER_BATCH], "BatchInput": {"executionName": "hostile"}}
            )
            for res in apply_batch(event_, StatsRepository(engine), _Audit()).result_dicts():
                if res["status"] == "FAILED":
                    failed[res["errorType"]].append(res["line"])
                elif res["status"] == "SUPERSEDED":
                    superseded.append(res["line"])
    finally:
        engine.dispose()
    return None, None, dict(failed), superseded


@given(hostile_file())
@example(b"user_id;login_count;post_count\nU1;1,5;2\nU1;3;4\n")
@example(b'user_id\tlogin_count\tpost_count\n"U2"\t"x\ty"\t1\n')
@example(b"user_id,login_count,post_count,a;user_id;login_count;post_count\nU1,1,1,x\n")
def test_check_reports_what_the_run_reports(bucket, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.csv"
        path.write_bytes(data)
        report = check_file(path, tolerance=100, max_bytes=10**9, limits=LIMITS, tmp_dir=tmp)
        rejection, cause, failed, superseded = _run(bucket, data, tmp)
    event(f"outcome: {rejection or 'accepted'}")
    assert report.error == rejection
    if rejection:
        assert report.cause == cause
        return
    assert (
        report.scan is not None
        and report.scan.data_rows == sum(map(len, failed.values())) + len(superseded) + report.applicable
    )
    assert {k: v.lines for k, v in report.errors.items()} == failed
    assert [line for line, _ in report.superseded] == superseded
