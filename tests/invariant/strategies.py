"""Hypothesis strategies for hostile CSV exports: encodings, BOMs, headers in any
case and order, quotes and embedded newlines, field counts, huge fields, control
characters, blank rows, duplicates, and numbers in every odd form."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

SEEDED = [f"U{n:03d}" for n in range(1, 9)]  # users that exist
UNKNOWN = ["N001", "N002"]  # valid ids that are not in `users`
INVALID_IDS = ["", "a b", "x" * 65, "U\x01", "ユーザー", "U001;DROP", " "]
GOOD_COUNTS = ["0", "1", "7", "42", "2147483647", " 5 ", "007"]
BAD_COUNTS = ["", "-1", "1.5", "1,000", "abc", "2147483648", "٣", "1e3", "+4", "0x1F"]
NAMES = {
    "user_id": ["user_id", "USER_ID", " User_Id ", "ユーザーID"],
    "login_count": ["login_count", "Login_Count", "ログイン回数"],
    "post_count": ["post_count", "POST_COUNT ", "投稿回数"],
}


@dataclass(frozen=True)
class HostileFile:
    data: bytes
    encoding: str
    description: str


def _cell_text(value: str) -> str:
    """A CSV cell, quoted when it must be (commas, quotes, newlines)."""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def hostile_files(draw: st.DrawFn, max_rows: int = 30) -> HostileFile:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    order = draw(st.permutations(["user_id", "login_count", "post_count"]))
    extra = draw(st.booleans())
    header = [draw(st.sampled_from(NAMES[name])) for name in order]
    if extra:
        header.insert(draw(st.integers(0, len(header))), "備考")
    width = len(header)
    lines = [""] * draw(st.integers(0, 2))  # blank lines before the header
    lines.append(",".join(_cell_text(h) for h in header))
    for _ in range(draw(st.integers(0, max_rows))):
        kind = draw(st.sampled_from(["good", "good", "good", "bad", "blank", "count", "huge", "quoted"]))
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", ",,", " , , ", ",,,"])))
            continue
        uid = draw(st.sampled_from(SEEDED + UNKNOWN + (INVALID_IDS if kind == "bad" else [])))
        login = draw(st.sampled_from(GOOD_COUNTS + (BAD_COUNTS if kind == "bad" else [])))
        post = draw(st.sampled_from(GOOD_COUNTS + (BAD_COUNTS if kind == "bad" else [])))
        values = {"user_id": uid, "login_count": login, "post_count": post}
        if kind == "huge":
            values[draw(st.sampled_from(list(values)))] = "9" * draw(st.integers(1025, 3000))
        if kind == "quoted":
            values["user_id"] = uid + "\n" if draw(st.booleans()) else uid
        cells = [values[name] for name in order]
        if extra:
            cells.insert(header.index("備考"), draw(st.sampled_from(["", "メモ", "note, with comma", 'say "hi"'])))
        if kind == "count":
            cells = cells + ["x"] * draw(st.integers(1, 2)) if draw(st.booleans()) else cells[: width - 1]
        lines.append(",".join(_cell_text(c) for c in cells))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    try:
        data = text.encode("cp932" if encoding == "cp932" else "utf-8")
    except UnicodeEncodeError:  # a character CP932 lacks: the same file in UTF-8
        encoding, data = "utf-8", text.encode("utf-8")
    if encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data
    return HostileFile(data=data, encoding=encoding, description=f"{encoding}, {len(lines)} lines")
