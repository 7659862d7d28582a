"""Input validation and the normalised copy on in-memory bytes (no AWS).

Each expected copy below is written out by hand from the contract; the property-based
tests in tests/hostile check the same against an independent oracle."""

import io

import pytest

from csv_dmap.errors import EmptyFile, InvalidHeader, RecordTooLarge, UnsupportedEncoding
from csv_dmap.logic.validation import CAUSE_MAX, COPY_HEADER, Limits, normalise, read_user_ids, scan

HEADER = "user_id,login_count,post_count,line,note"


def opener(data: bytes):
    return lambda: io.BytesIO(data)


def normalise_text(data: bytes, **kwargs) -> tuple[str, object]:
    out = io.StringIO()
    result = normalise(opener(data), out, **kwargs)
    return out.getvalue(), result


def test_copy_header_is_the_contract():
    assert ",".join(COPY_HEADER) == HEADER


def test_plain_utf8_is_copied_too_with_lines_and_empty_notes():
    text, result = normalise_text("ユーザーID,ログイン回数,投稿回数\nU1,1,2\nU2,3,4\n".encode())
    assert (result.encoding, result.data_rows, result.duplicate_rows, result.blank_rows) == ("utf-8", 2, 0, 0)
    assert text == f"{HEADER}\nU1,1,2,2,\nU2,3,4,3,\n"


def test_bom_is_detected_and_removed_from_the_header():
    data = "\ufeffuser_id,login_count,post_count\r\nU1,1,2\r\n".encode()
    text, result = normalise_text(data)
    assert result.encoding == "utf-8-sig" and result.header[0] == "user_id"
    assert text == f"{HEADER}\nU1,1,2,2,\n"


def test_cp932_with_crlf_and_quoted_fields():
    data = 'ユーザーID,ログイン回数,投稿回数\r\n"U1","1","2"\r\n"U2,x","3","4"\r\n'.encode("cp932")
    text, result = normalise_text(data)
    assert result.encoding == "cp932" and result.data_rows == 2
    assert text.splitlines() == [HEADER, "U1,1,2,2,", '"U2,x",3,4,3,']


def test_header_in_any_case_spacing_order_with_extra_columns_and_blank_lines_before_it():
    data = "\n , \nmemo, Post_Count ,ログイン回数,USER_ID\nhello,9,8,U7\n".encode()
    text, result = normalise_text(data)
    assert result.header_line == 3 and result.blank_rows == 0  # blank lines before the header are not rows
    assert text.splitlines() == [HEADER, "U7,8,9,4,"]


def test_duplicates_every_row_is_kept_and_earlier_ones_name_the_deciding_line():
    data = b"user_id,login_count,post_count\nU1,1,1\nU2,2,2\nU1,3,3\nbad id,0,0\nbad id,0,0\nU1,x,4\n"
    text, result = normalise_text(data)
    assert (result.data_rows, result.duplicate_rows) == (6, 2)
    # the last row of U1 decides even though it is invalid; invalid ids are never merged
    assert text.splitlines()[1:] == [
        "U1,1,1,2,superseded:7",
        "U2,2,2,3,",
        "U1,3,3,4,superseded:7",
        "bad id,0,0,5,",
        "bad id,0,0,6,",
        "U1,x,4,7,",
    ]


def test_field_count_mismatch_is_marked_never_truncated_or_padded():
    data = b"user_id,login_count,post_count\nU1,1,000,5\nU2,1\nU3,1,1\n"
    text, _ = normalise_text(data)
    assert text.splitlines()[1:] == ["U1,1,000,2,FieldCountMismatch:4:3", "U2,1,,3,FieldCountMismatch:2:3", "U3,1,1,4,"]


def test_blank_and_excel_empty_rows_are_skipped_and_counted_the_same_in_every_encoding():
    body = "user_id,login_count,post_count\n\nU1,1\n,,\n , ,\u3000\nU2,2,2\n"
    copies = set()
    for data in (
        body.encode(),
        b"\xef\xbb\xbf" + body.encode(),
        body.encode("cp932"),
        body.replace("\n", "\r").encode(),
    ):
        text, result = normalise_text(data)
        assert (result.data_rows, result.blank_rows) == (2, 3)
        copies.add(text)
    assert copies == {f"{HEADER}\nU1,1,,3,FieldCountMismatch:2:3\nU2,2,2,6,\n"}


def test_quoted_newlines_keep_the_line_where_the_record_starts():
    data = b'user_id,login_count,post_count\r\nU1,"1\r\n2",3\r\n\r\nU2,1,1\r\n'
    text, _ = normalise_text(data)
    assert text == f'{HEADER}\nU1,"1\r\n2",3,2,\nU2,1,1,5,\n'


def test_long_field_and_long_row_fail_their_row_with_a_capped_copy():
    big = "あ" * 400  # 1,200 UTF-8 bytes, 400 characters
    data = (
        f"user_id,login_count,post_count,memo\nU1,{big},1,\nU2,1,1,{'m' * 4089}\nU3,1,1,{'m' * 4090}\n"
        f"U4,{'x' * 1024},1,\n"
    ).encode()
    text, _ = normalise_text(data)
    assert text.splitlines()[1:] == [
        f"U1,{'あ' * 32}…,1,2,FieldTooLong:login_count:1200",
        "U2,1,1,3,",
        "U3,1,1,4,RowTooLong:4097",
        f"U4,{'x' * 1024},1,5,",
    ]  # 4,096 and 1,024: within


def test_a_10_mb_field_fails_its_row_not_the_file():
    data = b'user_id,login_count,post_count\nU1,1,"' + b"9" * 10_000_000 + b'"\nU2,1,1\n'
    text, _ = normalise_text(data)
    assert text.splitlines()[1:] == [f"U1,1,{'9' * 32}…,2,FieldTooLong:post_count:10000000", "U2,1,1,3,"]
    assert len(text) < 200


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b'user_id,login_count,post_count\nU1,1,1\nU2,"' + b"x" * 300 + b"\n" * 10, 3),  # unclosed quote
        (b"user_id,login_count,post_count\nU1,1,1\nU2," + b"x" * 300 + b",1\n", 3),  # one long line
    ],
)
def test_a_record_above_the_hard_bound_rejects_the_file_naming_the_line(data, line):
    with pytest.raises(RecordTooLarge) as info:
        normalise_text(data, limits=Limits(hard_max=256))
    assert f"line {line}" in str(info.value) and "256" in str(info.value)


def test_utf8_file_with_cp932_bytes_further_down_is_rejected_at_that_line_not_re_decoded():
    rows = "".join(f"U{i},1,1\n" for i in range(1, 50_000))
    data = ("user_id,login_count,post_count,memo\nU0,1,1,é\n" + rows).encode() + "U9,1,1,ア\n".encode("cp932")
    with pytest.raises(UnsupportedEncoding) as info:
        scan(opener(data))
    message = str(info.value)
    assert "line 50,002 is not UTF-8" in message and f"byte offset {len(data) - 3:,}" in message
    assert "line 2" in message  # what decided UTF-8


def test_ascii_until_cp932_text_is_cp932():
    data = b"user_id,login_count,post_count,memo\n" + b"U1,1,1,x\n" * 1000 + "U2,1,1,ア\n".encode("cp932")
    text, result = normalise_text(data)
    assert result.encoding == "cp932" and text.endswith("U2,1,1,1002,\n")


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        (b"", EmptyFile, "no header"),
        (b"\n\n,,\n", EmptyFile, "no header"),
        ("ユーザーID,ログイン回数,投稿回数\n\n".encode(), EmptyFile, "no data rows"),
        (b"user_id,logins\nU1,1\n", InvalidHeader, "ログイン回数 or login_count, 投稿回数 or post_count"),
        (b"user_id,USER_ID ,login_count,post_count\n", InvalidHeader, "appears twice"),
        (b"user_id," + b"x" * 120_000 + b",login_count,post_count\nU1,1,1\n", InvalidHeader, "120,031 bytes"),
        ("a,b\n".encode("utf-16-le").join([b"\xff\xfe", b""]), UnsupportedEncoding, "UTF-16"),
        (b"user_id,login_count,post_count\nU1,\x85\x40,1\n", UnsupportedEncoding, "line 2 is neither UTF-8 nor CP932"),
        (
            "\ufeffuser_id,login_count,post_count\nU1,1,1\n".encode() + b"U2,\x82\xa0,1\n",
            UnsupportedEncoding,
            "line 3 is not UTF-8 with BOM (byte offset 44",
        ),
    ],
)
def test_files_that_cannot_be_processed(data, error, fragment):
    with pytest.raises(error) as info:
        scan(opener(data))
    assert fragment in str(info.value)
    assert len(str(info.value)) <= CAUSE_MAX


def test_header_echo_is_capped():
    names = ",".join(f"c{i:03d}" + "x" * 100 for i in range(30))
    data = f"user_id,login_count,post_count,{names}\n".encode() + b"U1,1,1" + b"," * 30 + b"\n"
    _, result = normalise_text(data)
    assert len(result.header) == 33 and max(map(len, result.header)) == 64 and result.header[-1] == "… 1 more"


def test_read_user_ids_in_any_encoding():
    body = "ユーザーID,ログイン回数,投稿回数\r\nU1,1,1\r\n bad id ,1,1\r\n\r\n U2 ,x\r\nU1,2,2\r\n"
    for data in (body.encode(), b"\xef\xbb\xbf" + body.encode(), body.encode("cp932")):
        assert list(read_user_ids(opener(data))) == ["U1", "U2", "U1"]


def test_scan_streams_instead_of_reading_everything():
    class Counting(io.BytesIO):
        biggest = 0

        def read(self, size=-1):
            assert size != -1 and size is not None, "the whole object was requested"
            Counting.biggest = max(Counting.biggest, size)
            return super().read(size)

    data = ("user_id,login_count,post_count\n" + "".join(f"U{i},1,1\n" for i in range(200_000))).encode()
    result = scan(lambda: Counting(data))
    assert result.data_rows == 200_000 and Counting.biggest < len(data) // 2
