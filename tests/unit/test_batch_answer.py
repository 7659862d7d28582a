"""The worker serialises a batch's results once: the dicts its audit writer receives are the dicts
of its answer, and only a result the audit log changed (an item missing, or the first attempt's
item kept) is shaped again."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from csv_dmap.db import StatsRepository, build_engine, create_schema, seed_users
from csv_dmap.logic.apply_batch import apply_batch
from csv_dmap.models import BatchCounts, ItemResult, RowStatus, WorkerEvent, WorkerOutput
from csv_dmap.models.records import AuditReport


class Sink:
    """An audit log that records what it was given and reports ``missing`` as not written."""

    def __init__(self, missing: frozenset[int] = frozenset()) -> None:
        self.missing = missing
        self.given: list[Sequence[Mapping[str, Any]]] = []

    def write_results_report(self, results: Sequence[Mapping[str, Any]], **_: Any) -> AuditReport:
        self.given.append(results)
        return AuditReport(missing=self.missing)


@pytest.fixture
def repo(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path}/db.sqlite")
    create_schema(engine)
    seed_users(engine, {"U1", "U2"})
    yield StatsRepository(engine)
    engine.dispose()


def event(rows: list[tuple[str, str, str]]) -> WorkerEvent:
    items = [{"index": i, "row": {"user_id": u, "login_count": a, "post_count": b}} for i, (u, a, b) in enumerate(rows)]
    return WorkerEvent.model_validate({"Items": items, "BatchInput": {"executionName": "exec-1"}})


def test_the_audit_writer_and_the_answer_share_one_serialisation(repo):
    sink = Sink()
    output = apply_batch(event([("U1", "3", "4"), ("U2", "x", "1")]), repo, sink)
    (given,) = sink.given
    assert output.result_dicts() is given  # the same list: nothing serialised twice
    assert [r["status"] for r in output.to_payload()["results"]] == ["APPLIED", "FAILED"]
    # the shared dicts are what the results say, field for field
    assert output.result_dicts() == [r.to_dict() for r in output.results]


def test_a_result_whose_audit_item_is_missing_is_shaped_again(repo):
    sink = Sink(missing=frozenset({1}))
    output = apply_batch(event([("U1", "3", "4"), ("U2", "5", "6")]), repo, sink)
    (given,) = sink.given
    answer = output.to_payload()["results"]
    assert [r.get("auditMissing") for r in answer] == [None, True]
    assert "auditMissing" not in given[1]  # what the writer got was not changed under it
    assert answer[0] is given[0]  # the untouched result is not shaped again
    assert answer == [r.to_dict() for r in output.results]
    assert output.counts.audit_missing == 1
    json.dumps(output.to_payload())


def test_a_worker_output_made_without_dicts_still_answers():
    result = ItemResult(index=0, line=2, status=RowStatus.APPLIED, user_id="U1")

    output = WorkerOutput("exec-1", 0, BatchCounts.of([result]), [result])
    assert output.result_dicts() == [result.to_dict()]
