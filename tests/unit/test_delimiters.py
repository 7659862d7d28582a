"""The delimiters spreadsheets write: ValidateInput finds the file's delimiter from its header
(comma, semicolon, tab or pipe) and writes the same comma-separated copy whatever it was.
Each expected copy is written out by hand; the oracle in tests/hostile checks the same rule
on generated files."""

import io

import pytest

from csv_dmap.errors import InvalidHeader
from csv_dmap.logic.validation import Limits, normalise, read_user_ids, scan

COPY = "user_id,login_count,post_count,line,note"


def opener(data: bytes):
    return lambda: io.BytesIO(data)


def copy_of(data: bytes, **kwargs) -> tuple[list[str], object]:
    out = io.StringIO()
    result = normalise(opener(data), out, **kwargs)
    return out.getvalue().splitlines(), result


def test_semicolon_file_with_decimal_commas_in_quoted_fields():
    """A European spreadsheet's export: semicolons between fields, decimal commas inside quotes.
    A decimal comma in a count is that row's error (the worker's InvalidLoginCount); in an extra
    column it is data like any other."""
    data = (
        "ユーザーID;ログイン回数;投稿回数;Quote\r\n"
        'U1;5;12;"2,75"\r\n'
        'U2;"1,5";3;"0,1"\r\n'
        ";;;\r\n"  # an empty row as a semicolon spreadsheet writes it
        "U3;7;8;x\r\n"
    ).encode()
    lines, result = copy_of(data)
    assert (result.delimiter, result.data_rows, result.blank_rows) == (";", 3, 1)
    assert lines == [COPY, "U1,5,12,2,", 'U2,"1,5",3,3,', "U3,7,8,5,"]


def test_tab_file_from_a_spreadsheets_unicode_text_style_utf8_export():
    """Tab-separated UTF-8 with a byte order mark and CRLF line ends, a quoted cell holding a tab
    and one holding a line break (spreadsheets quote those)."""
    data = "\ufeffユーザーID\tログイン回数\t投稿回数\tメモ\r\n".encode() + (
        b'U1\t3\t4\t"a\tb"\r\nU2\t5\t6\t"two\r\nlines"\r\nU1\t7\t8\t\r\n'
    )
    lines, result = copy_of(data)
    assert (result.delimiter, result.encoding_label, result.data_rows, result.duplicate_rows) == (
        "\t",
        "UTF-8 with BOM",
        3,
        1,
    )
    assert lines == [COPY, "U1,3,4,2,superseded:5", "U2,5,6,3,", "U1,7,8,5,"]


def test_pipe_file_and_cp932():
    data = "ユーザーID|ログイン回数|投稿回数\nU1|1|2\n".encode("cp932")
    lines, result = copy_of(data)
    assert (result.delimiter, result.encoding) == ("|", "cp932")
    assert lines == [COPY, "U1,1,2,2,"]


def test_ambiguous_header_is_rejected_naming_the_delimiters_that_fit():
    data = b"user_id,login_count,post_count,x;user_id;login_count;post_count\nU1,1,1,x;U1;1;1\n"
    with pytest.raises(InvalidHeader) as info:
        scan(opener(data))
    cause = str(info.value)
    assert "comma (',') and semicolon (';')" in cause, cause
    assert "line 1" in cause and "Keep one delimiter" in cause


def test_a_header_no_delimiter_fits_names_what_the_best_reading_found():
    """A semicolon file with a misspelt column: the semicolon's reading found two of the three
    names, so its message is the one given (a comma reading found none)."""
    with pytest.raises(InvalidHeader) as info:
        scan(opener(b"user_id;login_count;posts\nU1;1;1\n"))
    cause = str(info.value)
    assert "no column for 投稿回数 or post_count" in cause and "read with the semicolon" in cause, cause
    assert "'user_id;login_count;posts'" in cause


def test_delimiter_is_decided_once_for_the_whole_file():
    """A comma file whose later rows hold semicolons: those rows are the comma's (one cell each)."""
    lines, result = copy_of(b"user_id,login_count,post_count\nU1,1,1\nU2;2;2\n")
    assert result.delimiter == ","
    assert lines == [COPY, "U1,1,1,2,", "U2;2;2,,,3,FieldCountMismatch:1:3"]


def test_read_user_ids_reads_any_delimiter():
    data = b"post_count\tuser_id\tlogin_count\n1\tU9\t2\n"
    assert list(read_user_ids(opener(data))) == ["U9"]


def test_reject_file_columns_count_in_no_size():
    """A reject file (the original columns, then line, error_type, error_message) of a row that
    fitted the row limit in its original file fits it again: the three columns are not counted."""
    limits = Limits(record_max_bytes=40)
    original_row = "U1,1,1," + "m" * 30  # 37 bytes: within the limit
    message = "the batch failed as a whole: " + "x" * 40
    reject = f"user_id,login_count,post_count,memo,line,error_type,error_message\n{original_row},2,NotRun,{message}\n"
    lines, _result = copy_of(reject.encode(), limits=limits)
    assert lines == [COPY, "U1,1,1,2,"]
    # the same columns anywhere else are ordinary columns and count
    moved = f"line,error_type,error_message,user_id,login_count,post_count,memo\n2,NotRun,{message},{original_row}\n"
    lines, _ = copy_of(moved.encode(), limits=limits)
    assert lines[1].endswith(",2,RowTooLong:116")


def test_reject_file_header_does_not_count_its_own_columns():
    limits = Limits(header_max_bytes=40)
    header = "user_id,login_count,post_count,memo_x"  # 37 bytes
    lines, _ = copy_of(f"{header},line,error_type,error_message\nU1,1,1,m,2,T,M\n".encode(), limits=limits)
    assert lines == [COPY, "U1,1,1,2,"]
    with pytest.raises(InvalidHeader):
        scan(opener(f"{header},line,error_type\nU1,1,1,m,2,T\n".encode()), limits=limits)
