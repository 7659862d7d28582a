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
    assert row.post_count == 2


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
        ({"ユーザーID": "U1", "ログイン回数": "1", "投稿回数": str(COUNT_MAX + 1)}, RowErrorType.INVALID_POST_COUNT, "between"),
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


def test_worker_event_rejects_batches_larger_than_the_output_budget():
    items = [{"index": i, "row": {}} for i in range(MAX_ITEMS_PER_BATCH + 1)]
    with pytest.raises(ValueError):
        WorkerEvent.model_validate({"Items": items, "BatchInput": {"executionName": "e"}})
    ok = WorkerEvent.model_validate({"Items": items[:-1], "BatchInput": {"executionName": "e"}})
    assert len(ok.items) == MAX_ITEMS_PER_BATCH
