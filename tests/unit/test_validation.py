"""Input validation and normalisation on in-memory bytes (no AWS)."""

import io

import pytest

from csv_dmap.errors import EmptyFile, InvalidHeader, UnsupportedEncoding
from csv_dmap.logic.validation import CANONICAL_HEADER, scan, write_normalised


def opener(data: bytes):
    return lambda: io.BytesIO(data)


def normalise(data: bytes) -> tuple[str, int]:
    result = scan(opener(data))
    out = io.StringIO()
    written = write_normalised(opener(data), result, out)
    return out.getvalue(), written


def test_plain_utf8_needs_no_copy():
    result = scan(opener("ユーザーID,ログイン回数,投稿回数\nU1,1,2\nU2,3,4\n".encode()))
    assert (result.encoding, result.data_rows, result.duplicate_rows, result.needs_normalising) == ("utf-8", 2, 0, False)


def test_bom_is_detected_and_removed_from_the_header():
    data = "\ufeffuser_id,login_count,post_count\r\nU1,1,2\r\n".encode()
    result = scan(opener(data))
    assert result.encoding == "utf-8-sig" and result.header[0] == "user_id" and result.needs_normalising
    text, written = normalise(data)
    assert text == "ユーザーID,ログイン回数,投稿回数\nU1,1,2\n" and written == 1


def test_cp932_with_crlf_and_quoted_fields():
    data = 'ユーザーID,ログイン回数,投稿回数\r\n"U1","1","2"\r\n"U2,x","3","4"\r\n'.encode("cp932")
    result = scan(opener(data))
    assert result.encoding == "cp932" and result.data_rows == 2
    text, _ = normalise(data)
    assert text.splitlines() == ["ユーザーID,ログイン回数,投稿回数", "U1,1,2", '"U2,x",3,4']


def test_columns_in_any_order_with_extra_columns_are_mapped_to_the_canonical_order():
    data = "memo,Post_Count,ログイン回数,USER_ID\nhello,9,8,U7\n".encode()
    text, _ = normalise(data)
    assert text.splitlines() == [",".join(CANONICAL_HEADER), "U7,8,9"]


def test_duplicates_keep_the_last_row_and_are_counted():
    data = "user_id,login_count,post_count\nU1,1,1\nU2,2,2\nU1,3,3\nbad id,0,0\nbad id,0,0\nU1,4,4\n".encode()
    result = scan(opener(data))
    assert (result.data_rows, result.duplicate_rows, result.rows_after_dedup) == (6, 2, 4)
    text, written = normalise(data)
    # invalid ids are never merged: the worker reports each of them
    assert text.splitlines()[1:] == ["U2,2,2", "bad id,0,0", "bad id,0,0", "U1,4,4"] and written == 4


def test_short_rows_and_blank_lines():
    data = b"user_id,login_count,post_count\n\nU1,1\n,,\nU2,2,2\n"
    result = scan(opener(data))
    assert result.data_rows == 2  # blank and all-empty lines are not rows
    text, _ = normalise(data + b"U1,5,5\n")
    assert text.splitlines()[1:] == ["U2,2,2", "U1,5,5"]


@pytest.mark.parametrize(("data", "error", "fragment"), [
    (b"", EmptyFile, "empty"),
    (b"\n\n", EmptyFile, "no header"),
    ("ユーザーID,ログイン回数,投稿回数\n\n".encode(), EmptyFile, "no data rows"),
    (b"user_id,logins\nU1,1\n", InvalidHeader, "ログイン回数 or login_count, 投稿回数 or post_count"),
    (b"user_id,user_id,login_count,post_count\n", InvalidHeader, "appears twice"),
    ("a,b\n".encode("utf-16-le").join([b"\xff\xfe", b""]), UnsupportedEncoding, "UTF-16"),
    (b"user_id,login_count,post_count\nU1,\x85\x40,1\n", UnsupportedEncoding, "offset"),
])
def test_files_that_cannot_be_processed(data, error, fragment):
    with pytest.raises(error) as info:
        scan(opener(data))
    assert fragment in str(info.value)


def test_scan_streams_instead_of_reading_everything():
    class Counting(io.BytesIO):
        biggest = 0

        def read(self, size=-1):
            assert size != -1 and size is not None, "the whole object was requested"
            Counting.biggest = max(Counting.biggest, size)
            return super().read(size)

        def read1(self, size=-1):
            return self.read(size if size and size > 0 else 65536)

        def readinto(self, b):
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)

    data = ("user_id,login_count,post_count\n" + "".join(f"U{i},1,1\n" for i in range(200_000))).encode()
    result = scan(lambda: Counting(data))
    assert result.data_rows == 200_000 and Counting.biggest < len(data) // 10
