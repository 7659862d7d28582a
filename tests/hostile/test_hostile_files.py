"""Hostile files through ValidateInput (``validate_object`` against moto S3), checked
against the independent oracle: the named rejection with its line, or the normalised
copy record by record (line, note, capped cells) and the facts handed on."""

from __future__ import annotations

import csv
import io
import json
from unittest import mock

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from csv_dmap.errors import InputRejected
from csv_dmap.input_files import validate_object
from csv_dmap.logic import validation
from csv_dmap.logic.validation import Limits, read_user_ids
from csv_dmap.models import RunInput
from tests.hostile import oracle
from tests.hostile.strategies import hostile_file

HARD_MAX = 8192  # the hard bound, lowered so that generated files reach it (16 MiB in production)
LIMITS = Limits(hard_max=HARD_MAX)
COPY_HEADER = b"user_id,login_count,post_count,line,note\n"


def aws_csv(copy: bytes) -> list[list[str]]:
    """The copy as Step Functions' ItemReader reads it: a backslash escapes the next character
    (https://docs.aws.amazon.com/step-functions/latest/dg/example-csv-parse-dist-map.html)."""
    return list(csv.reader(io.StringIO(copy.decode("utf-8"), newline=""), escapechar="\\"))


def run(bucket, data: bytes, limits: Limits = LIMITS):
    key = bucket.put(data)
    try:
        return validate_object(
            bucket.s3, RunInput(bucket=bucket.name, key=key), "hostile", max_bytes=10**9, limits=limits
        ), None
    except InputRejected as exc:
        return None, exc


def check_rejection(expected: oracle.Expected, exc: InputRejected | None, result) -> None:
    assert result is None and exc is not None, f"accepted, but the oracle expects {expected.rejection}"
    cause = str(exc)
    assert type(exc).__name__ == expected.rejection, cause
    assert 0 < len(cause) <= 1000 and "Traceback" not in cause
    if expected.line is not None and expected.rejection in ("UnsupportedEncoding", "RecordTooLarge"):
        assert f"line {expected.line:,} " in cause, cause
    if expected.offset is not None:
        assert f"byte offset {expected.offset:,}:" in cause, cause


def check_copy(bucket, expected: oracle.Expected, exc: InputRejected | None, result) -> None:
    assert exc is None, f"rejected {type(exc).__name__}: {exc}"
    copy = bucket.read(result.key)
    assert result.key == "staging/hostile/" + result.source_key.rsplit("/", 1)[-1]
    assert copy.startswith(COPY_HEADER) and not copy.startswith(b"\xef\xbb\xbf")
    records = aws_csv(copy)
    assert records[0] == ["user_id", "login_count", "post_count", "line", "note"]
    assert records[1:] == expected.records
    assert (result.encoding, result.source_rows, result.row_count) == (
        expected.encoding,
        len(expected.records),
        len(expected.records),
    )
    assert (result.duplicate_rows, result.blank_rows) == (expected.duplicate_rows, expected.blank_rows)
    assert result.header == expected.header
    assert len(json.dumps(result.to_payload())) < 16_384  # small by construction, whatever the header


@given(hostile_file())
@example(b"\n\nUSER_ID,Login_Count,POST_COUNT\r\nU1,1,000,5\r\n,,\r\nU1,x,1\r\n")
@example("ユーザーID,ログイン回数,投稿回数\nU1,1,1\n".encode("cp932") + b"U2,\xff,1\n")
@example(b'user_id,login_count,post_count\nU1,"1\r\n' + b"x" * 9000 + b'",1\n')
def test_validate_input_matches_the_oracle(bucket, data):
    expected = oracle.predict(data, hard_max=HARD_MAX)
    event(f"outcome: {expected.rejection or expected.encoding}")
    for kind in sorted({r[4].split(":")[0] for r in expected.records if r[4]}):
        event(f"note: {kind}")
    result, exc = run(bucket, data)
    if expected.rejection:
        check_rejection(expected, exc, result)
    else:
        check_copy(bucket, expected, exc, result)


@given(hostile_file())
def test_read_user_ids_matches_the_oracle(data):
    expected = oracle.predict(data, hard_max=HARD_MAX)
    try:
        ids = list(read_user_ids(lambda: io.BytesIO(data), LIMITS))
    except InputRejected as exc:
        # read_user_ids stops at the first problem in the file's order, as ValidateInput does,
        # except EmptyFile, which it does not raise for a header without rows
        assert type(exc).__name__ == expected.rejection
        return
    if expected.rejection not in (None, "EmptyFile"):
        pytest.fail(f"read_user_ids read a file ValidateInput rejects ({expected.rejection})")
    assert ids == expected.user_ids


@given(
    st.lists(st.sampled_from(["U1", "U2", "U3", "bad id"]), min_size=1, max_size=40),
    st.sampled_from(["utf-8", "cp932"]),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_every_duplicate_names_its_users_last_line(bucket, users, encoding, newline):
    """The duplicate rule alone, with a plain expectation: the last line of each valid user decides."""
    body = newline.join(["ユーザーID,ログイン回数,投稿回数", *(f"{u},{i},1" for i, u in enumerate(users))]) + newline
    result, exc = run(bucket, body.encode(encoding))
    assert exc is None
    records = aws_csv(bucket.read(result.key))[1:]
    last = {u: i + 2 for i, u in enumerate(users)}
    for i, (user, rec) in enumerate(zip(users, records, strict=True)):
        later = user != "bad id" and last[user] != i + 2
        assert rec == [user, str(i), "1", str(i + 2), f"superseded:{last[user]}" if later else ""]


@settings(max_examples=settings.default.max_examples * 4)  # no S3 here: cheap, and the boundaries are many
@given(hostile_file(), st.integers(1, 300), st.sampled_from([100, 300, 1000, HARD_MAX]))
def test_chunk_boundaries_change_nothing(data, chunk, hard_max):
    """The reader takes the object in chunks and decodes runs of lines at once when it can:
    with tiny chunks every boundary falls somewhere hostile, and with a tiny hard bound records
    cross it across chunks; the outcome is still the oracle's."""
    expected = oracle.predict(data, hard_max=hard_max)
    out = io.StringIO()
    with mock.patch.object(validation, "_READ_CHUNK", chunk):
        try:
            result = validation.normalise(lambda: io.BytesIO(data), out, limits=Limits(hard_max=hard_max))
        except InputRejected as exc:
            check_rejection(expected, exc, None)
            return
    assert expected.rejection is None, f"accepted, but the oracle expects {expected.rejection}"
    assert aws_csv(out.getvalue().encode())[1:] == expected.records
    assert (result.data_rows, result.blank_rows, result.duplicate_rows) == (
        len(expected.records),
        expected.blank_rows,
        expected.duplicate_rows,
    )
