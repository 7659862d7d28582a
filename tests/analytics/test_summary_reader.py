"""The run history read defensively: one reader of ``summaries/`` for DetermineConcurrency,
DailyReport and the CLI. An object that is not a usable summary (not JSON, empty, of an older
schema, not UTF-8, a stray notes.txt, impossible numbers, a second copy of a run) is skipped
and named; it never fails a run, a report or a command."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stderr
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csv_dmap.summaries import DamagedSummary, S3Summaries, parse_summary, summaries_of
from csv_dmap_cli.cli import main

from .conftest import BUCKET
from .test_row_results import _Context, _load_handler

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = "2026-11-23"
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


def payload(name: str, day: str = DAY, *, applied: int = 1000, failed: int = 0, finished: int = 60) -> dict[str, Any]:
    """A run summary as the aggregator writes it (camelCase, one object), numbers chosen here."""
    rows = applied + failed
    start = datetime.fromisoformat(f"{day}T01:00:00+00:00")
    return {
        "executionName": name,
        "date": day,
        "startTime": start.isoformat(),
        "finishedAt": (start + timedelta(seconds=finished)).isoformat(),
        "durationSeconds": float(finished),
        "status": "SUCCEEDED",
        "sourceBucket": "in",
        "sourceKey": f"incoming/{name}.csv",
        "rows": rows,
        "applied": applied,
        "failed": failed,
        "errorRate": round(100 * failed / rows, 3) if rows else 0.0,
        "severity": "LOW" if failed else "NONE",
        "errorsByType": {"UserNotFound": failed} if failed else {},
        "batches": 2,
        "maxConcurrency": 2,
        "maxItemsPerBatch": 500,
    }


def body(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False) + "\n").encode()


def key(name: str, day: str = DAY) -> str:
    return f"summaries/date={day}/{name}"


# Objects that are not usable summaries, as they turn up: (file name, body, what the reason says)
DAMAGED: list[tuple[str, bytes, str]] = [
    ("not-json.json", b"{this is not json", "not JSON"),
    ("empty.json", b"", "empty"),
    ("older-schema.json", body({"execution": "old-1", "rowCount": 3, "ok": 3}), "not a run summary of this version"),
    ("latin-1.json", json.dumps(payload("lat")).replace("in", "\u00e9n").encode("latin-1"), "not UTF-8"),
    ("notes.txt", b"remember: rerun Monday's file\n", "not a .json object"),
    ("a-list.json", b"[1, 2, 3]\n", "not a JSON object"),
]


def put_damaged(put: Any, day: str = DAY) -> list[str]:
    for name, data, _ in DAMAGED:
        put(key(name, day), data)
    put(f"summaries/date={day}/", b"")  # the S3 console's "Create folder": a marker, not an object
    return [key(name, day) for name, _, _ in DAMAGED]


def test_every_damaged_object_is_skipped_and_named_and_the_good_ones_are_read(s3):
    s3.put_object(Bucket=BUCKET, Key=key("good-1.json"), Body=body(payload("good-1")))
    damaged = put_damaged(lambda k, b: s3.put_object(Bucket=BUCKET, Key=k, Body=b))
    found = summaries_of(S3Summaries(s3, BUCKET), datetime.fromisoformat(DAY).date())
    assert [s.execution_name for s in found.runs] == ["good-1"]
    reasons = {s.key: s.reason for s in found.skipped}
    assert sorted(reasons) == sorted(damaged)  # the folder marker is no object: not named
    for name, _, expected in DAMAGED:
        assert expected in reasons[key(name)], (name, reasons[key(name)])
        assert "\n" not in reasons[key(name)] and "https://" not in reasons[key(name)]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"applied": -20_000_000_000_000_000, "rows": -20_000_000_000_000_000}, "negative count"),
        ({"rows": 1500}, "rows 1500 is not applied + failed"),
        ({"errorRate": 150.0}, "errorRate 150.0"),
        ({"durationSeconds": math.nan}, "durationSeconds nan"),
        ({"finishedAt": "yesterday"}, "finishedAt"),
        ({"startTime": "2026-11-23T01:00:00"}, "no UTC offset"),
        ({"date": "2026-11-22"}, "not its partition's (2026-11-23)"),
        ({"errorsByType": {"UserNotFound": -1}}, "errorsByType[UserNotFound] -1"),
    ],
)
def test_numbers_a_run_cannot_have_are_named(change, named):
    data = payload("r1", failed=10) | change
    with pytest.raises(DamagedSummary) as caught:
        parse_summary(key("r1.json"), json.dumps(data).encode())
    assert named in caught.value.skipped.reason
    assert parse_summary(key("r1.json"), body(payload("r1", failed=10))).rows == 1010


def _today_key(name: str) -> tuple[str, str]:
    today = datetime.now(TOKYO).date().isoformat()
    return key(name, today), today


def test_determine_concurrency_plans_from_the_good_history_and_names_what_it_skipped(s3, monkeypatch, caplog):
    from csv_dmap.runtime import reset as reset_clients

    good, today = _today_key("big-run.json")
    # 60,000 rows in 10 s on 2 workers: 3,000 rows/s per worker (the default assumption is 1,500)
    s3.put_object(Bucket=BUCKET, Key=good, Body=body(payload("big-run", today, applied=60_000, finished=10)))
    damaged = put_damaged(lambda k, b: s3.put_object(Bucket=BUCKET, Key=k, Body=b), today)
    monkeypatch.setenv("RESULTS_BUCKET", BUCKET)
    reset_clients()
    try:
        plan = _load_handler("concurrency_calculator").lambda_handler(
            {"executionName": "next", "rowCount": 100_000, "byteSize": 2_000_000}, _Context()
        )
    finally:
        reset_clients()
    assert "3000 rows/s per worker (median of 1 recent runs)" in plan["basis"]
    warned = {r.key: r.reason for r in caplog.records if r.levelname == "WARNING" and r.msg == "run summary skipped"}
    assert sorted(warned) == sorted(damaged)


def test_the_daily_report_counts_each_run_once_with_sane_numbers_and_says_what_it_skipped(s3, monkeypatch):
    from csv_dmap.runtime import reset as reset_clients

    puts = {
        key("a.json"): payload("a", applied=90, failed=10),
        key("dup.json"): payload("dup", applied=5, finished=10),
        # the same execution copied under a second key, finished later: this one counts
        key("dup (1).json"): payload("dup", applied=6, finished=20),
        key("absurd.json"): payload("absurd") | {"applied": -20_000_000_000_000_000},
    }
    for k, data in puts.items():
        s3.put_object(Bucket=BUCKET, Key=k, Body=body(data))
    damaged = put_damaged(lambda k, b: s3.put_object(Bucket=BUCKET, Key=k, Body=b))
    monkeypatch.setenv("RESULTS_BUCKET", BUCKET)
    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    reset_clients()
    try:
        answer = _load_handler("daily_report").lambda_handler({"date": DAY}, _Context())
    finally:
        reset_clients()
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=answer["reportKeys"][0])["Body"].read())
    assert (report["executions"], report["rows"], report["applied"], report["failed"]) == (2, 106, 96, 10)
    assert report["successRate"] == pytest.approx(100 * 96 / 106, abs=0.001)
    skipped = {s["key"]: s["reason"] for s in report["skippedSummaries"]}
    assert sorted(skipped) == sorted([*damaged, key("dup.json"), key("absurd.json")])
    assert "kept summaries/date=2026-11-23/dup (1).json" in skipped[key("dup.json")]
    assert "negative count" in skipped[key("absurd.json")]
    assert f"{len(skipped)} object(s) under summaries/ skipped" in report["message"]
    html = s3.get_object(Bucket=BUCKET, Key=answer["reportKeys"][1])["Body"].read().decode()
    assert "Skipped summaries" in html and "dup.json" in html


def _local(tmp_path: Path) -> Path:
    data = tmp_path / "data"

    def put(k: str, b: bytes) -> None:
        (data / k).parent.mkdir(parents=True, exist_ok=True)
        if not k.endswith("/"):
            (data / k).write_bytes(b)

    put(key("good-1.json"), body(payload("good-1", failed=4)))
    put(key("dup.json"), body(payload("dup", finished=10)))
    put(key("dup (1).json"), body(payload("dup", finished=20)))
    put_damaged(put)
    return data


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        code = main(list(argv), out=out)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "--date", DAY],
        ["status", "good-1"],
        ["report", DAY],
        ["failures", "good-1"],
        ["query", "--sql", "SELECT execution_name FROM run_summaries ORDER BY 1"],
    ],
)
def test_the_cli_reads_past_damaged_summaries_and_names_each_once(tmp_path, argv):
    data = _local(tmp_path)
    code, out, err = run_cli("--local", "--data-dir", str(data), "--json", *argv)
    assert code == 0, err
    assert "Traceback" not in err
    notes = err.splitlines()
    assert len(notes) == len(set(notes))  # said once, however many reads met it
    reads_the_day = argv[0] != "status"  # status reads the one summary it was asked about
    for name, _, _ in DAMAGED if reads_the_day else []:
        assert any(key(name) in line for line in notes), (name, err)
    answer = json.loads(out)
    if argv[0] == "runs":
        assert sorted(r["executionName"] for r in answer) == ["dup", "good-1"]
    if argv[0] == "query":
        assert answer == [{"execution_name": "dup"}, {"execution_name": "good-1"}]
    if argv[0] == "report":
        assert (answer["executions"], answer["rows"]) == (2, 2004)


def test_the_cli_on_a_stack_reads_past_damaged_summaries_too(s3):
    from csv_dmap_cli.backends import AwsBackend, StackResources

    s3.put_object(Bucket=BUCKET, Key=key("good-1.json"), Body=body(payload("good-1")))
    damaged = put_damaged(lambda k, b: s3.put_object(Bucket=BUCKET, Key=k, Body=b))
    resources = StackResources(BUCKET, "audit", "arn:aws:states:ap-northeast-1:123456789012:stateMachine:sm")
    backend = AwsBackend(resources, s3=s3, dynamodb=None, states=None)
    for argv in (["runs", "--date", DAY], ["report", DAY]):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stderr(err):
            code = main(["--stack", "sm", "--json", *argv], out=out, backend=backend)
        assert code == 0, err.getvalue()
        for k in damaged:
            assert f"csv-dmap: skipped {k}: " in err.getvalue()
    assert json.loads(out.getvalue())["executions"] == 1


def test_status_of_a_run_whose_own_summary_is_damaged_names_it(tmp_path):
    data = _local(tmp_path)
    (data / key("good-1.json")).write_bytes(b"\x00\x01 torn")
    code, out, err = run_cli("--local", "--data-dir", str(data), "status", "good-1")
    assert (code, out) == (1, "")
    notes = err.splitlines()
    assert notes[0].startswith(f"csv-dmap: skipped {key('good-1.json')}: not JSON")
    assert notes[-1].startswith("csv-dmap: no run summary for 'good-1'")
