import pytest

from csv_dmap.models import (
    COUNT_MAX,
    MAX_ITEMS_PER_BATCH,
    RowError,
    RowErrorType,
    WorkerEvent,
    parse_row,
    raw_user_id,
)


def test_japanese_headers_are_parsed_to_typed_values():
    row = parse_row({"ユーザーID": "U00001", "ログイン回数": "5", "投稿回数": "12"})
    assert (row.user_id, row.login_count, row.post_count) == ("U00001", 5, 12)


def test_english_aliases_and_surrounding_spaces_are_accepted():
    row = parse_row({"user_id": " U00002 ", "login_count": " 3", "post_count": "0 "})
    assert (row.user_id, row.login_count, row.post_count) == ("U00002", 3, 0)


def test_extra_columns_are_ignored():
    row = parse_row({"user_id": "U1", "login_count": "1", "post_count": "2", "memo": "x"})
    assert row.model_dump() == {"user_id": "U1", "login_count": 1, "post_count": 2}  # no trace of "memo"


@pytest.mark.parametrize(
    ("row", "error_type", "fragment"),
    [
        ({"ユーザーID": "", "ログイン回数": "1", "投稿回数": "1"}, RowErrorType.INVALID_USER_ID, "empty"),
        ({"ユーザーID": "U 1", "ログイン回数": "1", "投稿回数": "1"}, RowErrorType.INVALID_USER_ID, "characters"),
        ({"ユーザーID": "U" * 65, "ログイン回数": "1", "投稿回数": "1"}, RowErrorType.INVALID_USER_ID, "longer"),
        ({"ユーザーID": "ユーザー1", "ログイン回数": "1", "投稿回数": "1"}, RowErrorType.INVALID_USER_ID, "characters"),
        ({"ユーザーID": "U1", "ログイン回数": "abc", "投稿回数": "1"}, RowErrorType.INVALID_LOGIN_COUNT, "'abc'"),
        ({"ユーザーID": "U1", "ログイン回数": "-1", "投稿回数": "1"}, RowErrorType.INVALID_LOGIN_COUNT, "'-1'"),
        ({"ユーザーID": "U1", "ログイン回数": "1.5", "投稿回数": "1"}, RowErrorType.INVALID_LOGIN_COUNT, "whole"),
        ({"ユーザーID": "U1", "ログイン回数": "５", "投稿回数": "1"}, RowErrorType.INVALID_LOGIN_COUNT, "whole"),
        ({"ユーザーID": "U1", "ログイン回数": "1", "投稿回数": ""}, RowErrorType.INVALID_POST_COUNT, "''"),
        (
            {"ユーザーID": "U1", "ログイン回数": "1", "投稿回数": str(COUNT_MAX + 1)},
            RowErrorType.INVALID_POST_COUNT,
            "between",
        ),
        ({"ユーザーID": "U1", "ログイン回数": "1"}, RowErrorType.MISSING_COLUMN, "投稿回数 or post_count"),
        ("not a row", RowErrorType.INVALID_ITEM, "not an object"),
    ],
)
def test_bad_rows_raise_a_named_row_error(row, error_type, fragment):
    with pytest.raises(RowError) as info:
        parse_row(row)
    assert info.value.error_type is error_type
    assert fragment in info.value.message


def test_count_bounds_are_inclusive():
    assert parse_row({"user_id": "U1", "login_count": "0", "post_count": str(COUNT_MAX)}).post_count == COUNT_MAX


def test_error_messages_do_not_echo_long_values():
    with pytest.raises(RowError) as info:
        parse_row({"user_id": "U1", "login_count": "x" * 5000, "post_count": "1"})
    assert len(info.value.message) < 120


def test_raw_user_id_reports_what_the_row_said():
    assert raw_user_id({"ユーザーID": " bad id "}) == "bad id"
    assert raw_user_id({"user_id": ""}) is None
    assert raw_user_id(["x"]) is None


def test_an_id_that_is_too_long_stays_too_long_when_reported():
    # cut to 64 characters it would be a valid id: another user's
    too_long = "a" * 65
    assert raw_user_id({"user_id": too_long}) == too_long
    assert len(raw_user_id({"user_id": "b" * 10_000})) > 64


def test_worker_event_rejects_batches_larger_than_the_output_budget():
    items = [{"index": i, "row": {}} for i in range(MAX_ITEMS_PER_BATCH + 1)]
    with pytest.raises(ValueError):
        WorkerEvent.model_validate({"Items": items, "BatchInput": {"executionName": "e"}})
    ok = WorkerEvent.model_validate({"Items": items[:-1], "BatchInput": {"executionName": "e"}})
    assert len(ok.items) == MAX_ITEMS_PER_BATCH


# --------------------------------------------------------------------------- line, note, output bound

import json
from dataclasses import replace
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csv_dmap.logic.decide import Execution, classify, decide, replay
from csv_dmap.models import (
    AUDIT_MISSING_BYTES,
    AUDITED_STATUSES,
    LINE_MAX,
    MAX_OUTPUT_BYTES,
    MAX_RESULT_BYTES,
    BatchCounts,
    BatchItem,
    Failure,
    RowStatus,
    StoredStats,
    WorkerOutput,
    cap_escaped,
    note_error,
    row_line,
    superseded_by,
)


def test_statuses_and_run_statuses_are_the_contracts_names():
    assert [s.value for s in RowStatus] == ["APPLIED", "FAILED", "SUPERSEDED", "SKIPPED", "PENDING"]
    assert {"APPLIED", "FAILED", "SUPERSEDED", "SKIPPED"} == AUDITED_STATUSES  # a PENDING row has no audit item
    assert {e.value for e in RowErrorType} >= {
        "MissingColumn",
        "InvalidUserId",
        "InvalidLoginCount",
        "InvalidPostCount",
        "UserNotFound",
        "InvalidItem",
        "FieldCountMismatch",
        "FieldTooLong",
        "RowTooLong",
    }


def test_the_normalised_header_is_read_like_the_japanese_one():
    row = parse_row({"user_id": "U1", "login_count": "3", "post_count": "4", "line": "17", "note": ""})
    assert (row.user_id, row.login_count, row.post_count) == ("U1", 3, 4)


@pytest.mark.parametrize(
    ("raw", "index", "line"),
    [
        ({"line": "17"}, 0, 17),
        ({"line": 17}, 0, 17),
        ({}, 5, 7),  # no line: the header is line 1, so index + 2
        ({"line": ""}, 5, 7),
        ({"line": "x"}, 5, 7),
        ({"line": "0"}, 5, 7),
        ({"line": "1" * 11}, 5, 7),
        ("not a dict", 3, 5),
    ],
)
def test_line_comes_from_the_row_or_from_the_index(raw, index, line):
    assert row_line(raw, index) == line


@pytest.mark.parametrize(
    ("note", "error_type"),
    [
        ("FieldCountMismatch:4:3", RowErrorType.FIELD_COUNT_MISMATCH),
        ("FieldTooLong:user_id:5000", RowErrorType.FIELD_TOO_LONG),
        ("RowTooLong:9000", RowErrorType.ROW_TOO_LONG),
        ("FieldCountMismatch", RowErrorType.INVALID_ITEM),
        ("whatever", RowErrorType.INVALID_ITEM),
    ],
)
def test_notes_name_their_row_error(note, error_type):
    assert note_error(note).error_type is error_type


def test_superseded_names_the_deciding_line():
    assert superseded_by("superseded:12") == 12
    assert superseded_by("superseded:x") is None
    assert superseded_by("FieldTooLong:a:1") is None


def test_a_lambda_cause_gives_its_error_message_and_a_plain_one_its_first_line():
    lam = Failure.model_validate({"Error": "X", "Cause": json.dumps({"errorMessage": "boom", "stackTrace": ["a"]})})
    assert lam.message() == "boom"
    assert Failure.model_validate({"Error": "X", "Cause": "one\ntwo"}).message() == "one"
    assert Failure.model_validate({"Error": "X", "Cause": ""}).message() == "X"
    assert len(Failure.model_validate({"Error": "X", "Cause": "y" * 10_000}).message()) == 200


@given(st.text(max_size=300), st.integers(min_value=0, max_value=400))
def test_cap_escaped_fits_the_budget_and_keeps_a_prefix(text, budget):
    capped = cap_escaped(text, budget)
    assert len(json.dumps(capped)) - 2 <= budget
    if len(json.dumps(text)) - 2 <= budget:
        assert capped == text
    elif budget < 6:
        assert capped == ""
    else:
        assert capped.endswith("…") and text.startswith(capped[:-1])


# Hostile rows: control characters, non-ASCII, huge cells, numbers in odd forms, notes of every kind.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), min_size=100, max_size=1100),
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=100, max_size=1100),
    st.just("9" * 1100),
    st.sampled_from(["U00001", "A" * 64, "u:1@x.y-z_", ""]),
)
notes = st.one_of(
    st.just(""),
    st.builds(lambda n: f"superseded:{n}", st.integers(min_value=1, max_value=LINE_MAX)),
    st.builds(lambda a, b: f"FieldCountMismatch:{a}:{b}", hostile_text, hostile_text),
    st.builds(lambda c, b: f"FieldTooLong:{c}:{b}", hostile_text, hostile_text),
    st.builds(lambda b: f"RowTooLong:{b}", hostile_text),
    hostile_text,
)
hostile_row = st.one_of(
    st.fixed_dictionaries(
        {
            "user_id": hostile_text,
            "login_count": hostile_text,
            "post_count": hostile_text,
            "line": st.one_of(hostile_text, st.integers(min_value=-5, max_value=10**12).map(str)),
            "note": notes,
        }
    ),
    st.fixed_dictionaries({"ユーザーID": hostile_text, "ログイン回数": hostile_text}),
    hostile_text,
    st.integers(),
)
execution_names = st.text(min_size=1, max_size=80)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(
    st.lists(hostile_row, min_size=1, max_size=12),
    execution_names,
    execution_names,
    st.sampled_from(["missing", "newer", "stored"]),
)
def test_the_output_of_500_hostile_rows_fits_140_kib(rows, name, newer, state):
    items = [BatchItem(index=LINE_MAX - 500 + i, row=rows[i % len(rows)]) for i in range(MAX_ITEMS_PER_BATCH)]
    settled, candidates = classify(items)
    run = Execution(name, datetime(2026, 1, 1), items[0].index)
    stored = {}
    if state != "missing":
        when = datetime(2027, 1, 1) if state == "newer" else datetime(2025, 1, 1)
        stored = {
            c.user_id: StoredStats(COUNT_MAX, COUNT_MAX, COUNT_MAX, COUNT_MAX, newer, 0, when) for c in candidates
        }
    codes = {c.index: "ASU"[c.index % 3] for c in candidates}  # a replay of every kind of row
    for outcome, lost in (
        (decide(candidates, stored, run).results, False),
        (replay(candidates, stored, run, codes).results, True),  # ... whose audit items are all missing
    ):
        results = [replace({**settled, **outcome}[item.index], audit_missing=lost) for item in items]
        output = WorkerOutput(name, items[0].index, BatchCounts.of(results), results)
        dicts = output.result_dicts()
        flag = AUDIT_MISSING_BYTES if lost else 0  # the auditMissing flag comes on top of the result's budget
        assert all(len(json.dumps(d)) + 2 <= MAX_RESULT_BYTES + flag for d in dicts)
        assert all(d.get("auditMissing") is (True if lost else None) for d in dicts)
        assert len(json.dumps(output.to_payload(dicts))) <= MAX_OUTPUT_BYTES
        assert (
            output.counts.total
            == MAX_ITEMS_PER_BATCH
            == sum((output.counts.applied, output.counts.failed, output.counts.superseded, output.counts.skipped))
        )


def test_the_largest_results_fit_their_bound_with_and_without_the_audit_flag():
    from csv_dmap.models import COUNT_MAX, USER_ID_MAX_LENGTH, ItemResult

    uid, n = "u" * USER_ID_MAX_LENGTH, COUNT_MAX
    largest = ItemResult(LINE_MAX, LINE_MAX, RowStatus.APPLIED, uid, None, n, n, n, n)
    assert len(json.dumps(largest.to_dict())) + 2 == MAX_RESULT_BYTES  # it takes the whole budget
    flagged = replace(largest, audit_missing=True)
    assert len(json.dumps(flagged.to_dict())) + 2 == MAX_RESULT_BYTES + AUDIT_MISSING_BYTES
    noted = ItemResult(LINE_MAX, LINE_MAX, RowStatus.APPLIED, uid, None, None, n, None, n, None, "x" * 500, None, True)
    assert len(json.dumps(noted.to_dict())) + 2 <= MAX_RESULT_BYTES + AUDIT_MISSING_BYTES
    assert MAX_ITEMS_PER_BATCH * (MAX_RESULT_BYTES + AUDIT_MISSING_BYTES) + 1024 <= MAX_OUTPUT_BYTES
