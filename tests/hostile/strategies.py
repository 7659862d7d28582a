"""Hypothesis strategies for hostile CSV files: encodings (UTF-8, BOM, CP932), delimiters
(comma mostly; semicolon, tab, pipe), line ends (LF, CRLF, CR), quotes and embedded newlines, field counts, huge fields, control
characters, blank and Excel-empty rows, duplicates with valid and invalid last rows,
headers in any case/order/with extra columns, numbers in odd forms, broken bytes and
unclosed quotes. The files are built here; what they mean is the oracle's business."""

from __future__ import annotations

from hypothesis import strategies as st

ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
COMMON_CHARS = "abcXYZ019 ,\"'\\\r\n\t\x00\x01\x1c\x1f\x7f_.:@-あア漢ｱ\u3000"
UTF8_ONLY_CHARS = "é😀\u2028\x85\u00a0\ufeff"
ODD_NUMBERS = [
    "1",
    "0",
    "007",
    " 5 ",
    "-1",
    "+3",
    "1e3",
    "1.0",
    "１２",
    "",
    "x",
    "2147483647",
    "2147483648",
    "0x10",
    "1_000",
    "٣",
    "\t9",
]
USER_IDS = [
    "U1",
    "U2",
    "U3",
    "U1\\",
    "\\",
    " U1 ",
    "U2\t",
    "bad id",
    "",
    " ",
    "\x01",
    "U" + "9" * 70,
    "ユーザー",
    "u1",
    "U1;",
]
HEADER_NAMES = {
    "user_id": ["user_id", "USER_ID", " User_Id ", "ユーザーID", "ユーザーid", "\tuser_id"],
    "login_count": ["login_count", "Login_Count", "LOGIN_COUNT ", "ログイン回数"],
    "post_count": ["post_count", "POST_COUNT", " post_count", "投稿回数"],
}
EXTRA_COLUMNS = ["memo", "", "extra", "備考", "user", "note", "line"]
BLANKS = ["", ",,", " , ,", "\t", ",\u3000,", ",,,,,,"]


def encodable(values: list[str], encoding: str) -> list[str]:
    codec = "cp932" if encoding == "cp932" else "utf-8"
    out = []
    for value in values:
        try:
            value.encode(codec)
            out.append(value)
        except UnicodeEncodeError:
            pass
    return out


def text(encoding: str, max_size: int = 12) -> st.SearchStrategy[str]:
    alphabet = COMMON_CHARS + (UTF8_ONLY_CHARS if encoding != "cp932" else "")
    return st.text(alphabet=alphabet, max_size=max_size)


def big_cell(encoding: str) -> st.SearchStrategy[str]:
    """Cells around the field limit (1,024 bytes), the row limit (4,096) and the test's hard bound."""
    char = st.sampled_from(["x", "あ", "é"] if encoding != "cp932" else ["x", "あ", "ｱ"])
    length = st.sampled_from([255, 256, 341, 342, 1023, 1024, 1025, 1400, 4090, 5000, 9000])
    return st.builds(lambda c, n: c * n, char, length)


DELIMITERS = [",", ",", ",", ";", "\t", "|"]  # mostly commas; the others spreadsheets write


def quote(cell: str, force: bool, delimiter: str = ",") -> str:
    if force or any(c in cell for c in delimiter + '"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def header(draw: st.DrawFn) -> list[str]:
    names = [draw(st.sampled_from(HEADER_NAMES[f])) for f in HEADER_NAMES]
    names = draw(st.permutations(names))
    for extra in draw(st.lists(st.sampled_from(EXTRA_COLUMNS), max_size=3)):
        names.insert(draw(st.integers(0, len(names))), extra)
    flaw = draw(st.sampled_from(["none"] * 30 + ["missing", "twice", "huge"]))
    if flaw == "missing":
        names.pop(draw(st.integers(0, len(names) - 1)))
    elif flaw == "twice":
        names.append(draw(st.sampled_from(HEADER_NAMES["login_count"])))
    elif flaw == "huge":
        names.append("h" * draw(st.sampled_from([4000, 4100, 120_000])))
    return names


@st.composite
def row(draw: st.DrawFn, encoding: str, width: int) -> list[str]:
    kind = draw(st.sampled_from(["normal"] * 6 + ["blank", "short", "long", "big", "wild", "wide", "multiline"]))
    if kind == "blank":
        return draw(st.sampled_from(BLANKS)).split(",")
    numbers = st.sampled_from(encodable(ODD_NUMBERS, encoding))
    cells = [draw(st.sampled_from(encodable(USER_IDS, encoding))), draw(numbers), draw(numbers)]
    cells += [draw(text(encoding)) for _ in range(max(width - 3, 0))]
    cells = draw(st.permutations(cells)) if draw(st.booleans()) and kind == "wild" else cells
    if kind == "short":
        cells = cells[: draw(st.integers(1, max(len(cells) - 1, 1)))]
    elif kind == "long":
        cells += [draw(text(encoding)) for _ in range(draw(st.integers(1, 3)))]
    elif kind == "big":
        cells[draw(st.integers(0, len(cells) - 1))] = draw(big_cell(encoding))
    elif kind == "wide":  # every cell within the field limit, the record around the row limit
        size = draw(st.sampled_from([300, 1024, 1500, 2100, 4100]))
        cells = cells[:3] + ["w" * size for _ in cells[3:]] if len(cells) > 3 else ["ｱ" * 341 for _ in cells]
    elif kind == "multiline":  # a quoted cell over many lines: one record, many physical lines
        piece = "y" * draw(st.integers(0, 30))
        cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(
            [piece] * draw(st.sampled_from([2, 10, 80]))
        )
    elif kind == "wild":
        cells[draw(st.integers(0, len(cells) - 1))] = draw(text(encoding, 40))
    return cells


@st.composite
def hostile_file(draw: st.DrawFn) -> bytes:
    encoding = draw(st.sampled_from(ENCODINGS))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    delimiter = draw(st.sampled_from(DELIMITERS))
    names = draw(header())
    records = [draw(st.sampled_from(BLANKS)).split(",") for _ in range(draw(st.integers(0, 2)))]
    records.append(names)
    records += draw(st.lists(row(encoding, len(names)), min_size=draw(st.sampled_from([0, 1, 1, 1])), max_size=20))
    lines = [delimiter.join(quote(c, draw(st.integers(0, 9)) == 0, delimiter) for c in cells) for cells in records]
    body = newline.join(lines) + (newline if draw(st.booleans()) else "")
    if draw(st.integers(0, 14)) == 0:
        body += '\n"never closed,' + draw(text(encoding))
    if draw(st.integers(0, 9)) == 0:  # a stray quote anywhere: the rest may become one long record
        at = draw(st.integers(0, len(body)))
        body = body[:at] + '"' + body[at:]
    data = body.encode("cp932" if encoding == "cp932" else "utf-8")
    if encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data
    return corrupt(draw, data)


def corrupt(draw: st.DrawFn, data: bytes) -> bytes:
    """Sometimes: bytes of another (or no) encoding somewhere, or a UTF-16 BOM."""
    how = draw(st.sampled_from(["none"] * 10 + ["insert", "utf16"]))
    if how == "utf16":
        return b"\xff\xfe" + data
    if how == "insert":
        bad = draw(
            st.sampled_from([b"\xff", b"\x80", b"\x82\xa0", "ア".encode("cp932"), "é".encode(), b"\xe3\x81", b"\x81\n"])
        )
        at = draw(st.integers(0, len(data)))
        return data[:at] + bad + data[at:]
    return data
