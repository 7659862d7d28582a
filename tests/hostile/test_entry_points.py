"""Every user-facing entry point, driven as a user drives it (a process of its own) with hostile
arguments and damaged local data: ``csv-dmap`` (each command, ``--local``), ``make query``,
``make invoke``, ``make run CSV=...``, ``python -m local_runner`` (run, invoke, exec, redrive,
lint) and ``python -m asl_runner``.

Whatever the input: no "Traceback" and no warning with a site-packages path anywhere in the
output; an error is a short message on stderr ending in one line that says what is wrong; the
exit code is 0 (ok), 1 (the thing asked about failed or does not exist) or 2 (unusable
arguments). Damaged history is named in notes, and the command still answers."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.analytics.test_cli_hostile import OTHER, RUN, audit_line, rows_part
from tests.analytics.test_summary_reader import DAMAGED, DAY, body, key, payload

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, "-m", "csv_dmap_cli"]
LOCAL_RUNNER = [sys.executable, "-m", "local_runner"]
ASL_RUNNER = [sys.executable, "-m", "asl_runner"]
MAKE = ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed"]
# A short message: argparse's usage (a few lines) and its error, or notes about damaged history
# and the one line of the error.
MAX_STDERR_LINES = 15
ERROR_LINE = ("csv-dmap: ", "csv-dmap ", "error: ", "python -m ", "usage: ")
MAKE_SAYS = re.compile(r"make(\[\d+\])?: \*\*\* ")  # make's own line after a failed recipe (make[1] under make)

NAMES = [
    "*",
    "local-2026*",
    "[a-z]*",
    "x" * 10_000,
    "",
    "a b",
    "\x1b[31mred",
    "bad\udcff",
    "../../etc/passwd",
    "-",
    "ユーザー",
    "'; DROP TABLE users; --",
    "%",
    "$(touch pwned)",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A local data directory with two runs and every kind of damage, and hostile files."""
    base = tmp_path_factory.mktemp("entry points")  # a space in every path
    data = base / "data [local]"

    def put(k: str, b: bytes) -> None:
        (data / k).parent.mkdir(parents=True, exist_ok=True)
        if not k.endswith("/"):
            (data / k).write_bytes(b)

    put(key(f"{RUN}.json"), body(payload(RUN, applied=2, failed=2)))
    put(key(f"{OTHER}.json"), body(payload(OTHER, applied=3)))
    put(key(f"{OTHER} copy.json"), body(payload(OTHER, applied=3, finished=90)))
    put(key("absurd.json"), body(payload("absurd") | {"applied": -20_000_000_000_000_000}))
    for name, damaged, _ in DAMAGED:
        put(key(name), damaged)
    (data / key("a-folder.json")).mkdir()
    put(
        f"audit/{RUN}.jsonl",
        (audit_line(RUN, 2, "U0000001") + audit_line(RUN, 4, "ユーザー1", "InvalidUserId", raw=True)).encode()
        + b'{"executionName": "torn\n\xff\xfe\x00\n'
        + audit_line(RUN, 5, "N0000001", "UserNotFound").encode(),
    )
    put(f"audit/{OTHER}.jsonl", b"\x1f\x8b\x08 not json at all")
    put(f"rows/execution_date={DAY}/{RUN}/part-00000.json.gz", rows_part(RUN, [2, 3, 4, 5], failed=(4, 5)))
    put(f"rows/execution_date={DAY}/{OTHER}/part-00000.json.gz", gzip.compress(b"")[:12])
    put(f"daily-reports/date={DAY}/report.json", b'{"total_rows": "many"')
    put("running/local-torn.json", b'{"status": "RUNN')
    put("running/local-wrong.json", json.dumps({"startDate": "soon", "itemCounts": {"total": "x"}}).encode())
    binary = base / "binary (1).sql"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe" * 50)
    empty = base / "empty file.csv"
    empty.write_bytes(b"")
    not_a_dir = base / "a file"
    not_a_dir.write_text("")
    plain = tmp_path_factory.mktemp("plain")  # for RUN_ARGS, which the shell splits on spaces
    return {"base": base, "data": data, "binary": binary, "empty": empty, "file": not_a_dir, "plain": plain}


def run(argv: list[str], world: dict[str, Path], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "CSV_DMAP_LOCAL_DATA": str(world["data"]),
        "DATABASE_URL": f"sqlite:///{world['base'] / 'db.sqlite'}",
        **env,
    }
    return subprocess.run(
        argv,
        cwd=world["base"],
        env=environment,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=600,
        check=False,
    )


def check(
    done: subprocess.CompletedProcess[str], codes: set[int], world: dict[str, Path], answer: str | None = None
) -> list[str]:
    """The checks every entry point passes; the lines of stderr. ``answer``: what a command that
    ran and reports a failure (a rejected file, a definition lint found wrong) prints as its
    answer on stdout, in place of an error line on stderr."""
    everything = done.stdout + done.stderr
    assert "Traceback" not in everything, everything[-3000:]
    assert "site-packages" not in done.stderr and "Warning:" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in codes, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) <= MAX_STDERR_LINES, done.stderr[-3000:]
    said = [line for line in lines if not MAKE_SAYS.match(line)]
    if answer is not None:
        assert answer in done.stdout and not said, (done.stdout[-2000:], done.stderr[-2000:])
    elif done.returncode != 0:
        assert said and said[-1].startswith(ERROR_LINE), done.stderr[-2000:]
    assert not [p for where in (world["base"], ROOT) for p in where.glob("pwned*")], "a value ran as a command"
    return lines


def placed(argv: list[str], world: dict[str, Path]) -> list[str]:
    """``argv`` with its placeholders replaced by the world's paths."""
    names = {
        "BINARY": world["binary"],
        "EMPTY": world["empty"],
        "MISSING": world["base"] / "missing file.json",
        "AFILE": world["file"],
        "BASE": world["base"],
        "PLAIN": world["plain"],
        "DEFINITION": ROOT / "statemachine" / "definition.asl.json",
    }
    out = []
    for arg in argv:
        for name, path in names.items():
            arg = arg.replace(name, str(path))
        out.append(arg)
    return out


OK, MISSING, USAGE = {0}, {1}, {2}


def cli_cases() -> list[tuple[list[str], set[int]]]:
    cases: list[tuple[list[str], set[int]]] = [
        (["runs"], OK),
        (["runs", "--date", DAY], OK),
        (["runs", "--date", "9999-12-31"], OK),
        (["runs", "--date", "0001-01-01", "--json"], OK),
        (["runs", "--date", "31/12/2026"], USAGE),
        (["status", RUN], OK),
        (["status", "local-torn"], MISSING),
        (["status", "local-wrong"], MISSING),
        (["failures", RUN], OK),
        (["failures", RUN, "--type", "*"], OK),
        (["failures", OTHER, "--json"], OK),
        (["history", "U0000001"], OK),
        (["history", "U0000001", "--days", "100000000"], USAGE),
        (["history", "U0000001", "--days", "-1"], USAGE),
        (["report", DAY], OK),
        (["report", "9999-12-31"], OK),
        (["report", "not a day"], USAGE),
        (["redrive", RUN], MISSING),
        (["queries"], OK),
        (["query", "--sql", "SELECT count(*) FROM user_update_results"], OK),
        (["query", "--sql", "SELECT * FROM run_summaries"], OK),
        (["query", "--sql", "SELECT * FROM daily_reports"], OK),
        (["query", "--sql", "SELECT * FROM audit_log"], OK),
        (["query", "--sql", ""], USAGE),
        (["query", "--sql", "SELEC nothing"], USAGE),
        (["query", "--sql", "SELECT * FROM read_csv('/etc/passwd', sep=':')"], USAGE),
        (["query", "--sql", "COPY (SELECT 1) TO 'pwned.csv'"], USAGE),
        (["query", "--sql", "ATTACH 'pwned.db'"], USAGE),
        (["query", "--sql", "SELECT ?"], USAGE),
        (["query", "--named", "nope"], USAGE),
        (["query", "--named", "failed-rows"], USAGE),
        (["query", "--named", "user-history", "--param", "U1", "--param", "U2"], USAGE),
        (["--timezone", "Nope/Nowhere", "runs"], USAGE),
        (["runs", "--timezone", ""], USAGE),
        (["--local", "runs", "--stack", "prod"], USAGE),
        (["--stack", "prod", "runs"], USAGE),  # AWS out of reach: one line, exit 2
        ([], USAGE),
        (["nonsense"], USAGE),
    ]
    for name in NAMES:
        cases += [(["status", name], USAGE | MISSING), (["failures", name], USAGE | MISSING)]
    for name in NAMES[:: len(NAMES) // 4]:
        cases += [(["history", name], USAGE | OK), (["redrive", name], USAGE | MISSING)]
    return cases


@pytest.mark.parametrize(("argv", "codes"), cli_cases(), ids=lambda v: repr(v)[:60])
def test_csv_dmap(world, argv, codes):
    # --stack: nothing listens at the endpoint, so AWS is out of reach, quickly
    unreachable = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    check(run([*CLI, "--local", *argv], world, **unreachable), codes, world)


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "--file", "BINARY"],
        ["query", "--file", "MISSING"],
        ["query", "--file", "BASE"],
        ["--data-dir", "AFILE", "runs"],
        ["--data-dir", "MISSING", "status", RUN],
    ],
)
def test_csv_dmap_files_that_are_not_what_they_should_be(world, argv):
    check(run([*CLI, *placed(argv, world)], world), USAGE, world)


OUT = ["--out", "BASE/out", "--no-progress"]


@pytest.mark.parametrize(
    ("argv", "codes"),
    [
        (["run", "--csv", "BINARY", *OUT], MISSING),  # rejected, its error named
        (["run", "--csv", "EMPTY", *OUT], MISSING),
        (["run", "--csv", "MISSING", *OUT], USAGE),
        (["run", "--csv", "BASE", *OUT], USAGE),
        (["run", "--rows", "0"], USAGE),
        (["run", "--rows", "many"], USAGE),
        (["run", "--parameter", "junk"], USAGE),
        (["run", "--csv", "EMPTY", "--out", "AFILE/out"], USAGE),
        (["run", "--csv", "EMPTY", "--database-url", "nope://x", *OUT], USAGE),
        (["invoke", "--function", "nope", "--event", "BINARY"], USAGE),
        (["invoke", "--function", "worker", "--event", "BINARY"], USAGE),
        (["invoke", "--function", "worker", "--event", "MISSING"], USAGE),
        (["invoke", "--function", "worker", "--event", "DEFINITION", "--seed-users", "BINARY"], USAGE),
        (["invoke", "--function", "worker", "--event", "DEFINITION", "--s3-object", "junk"], USAGE),
        (["exec", "--definition", "BINARY"], USAGE),
        (["exec", "--definition", "MISSING"], USAGE),
        (["exec", "--definition", "DEFINITION", "--input", "{bad"], USAGE),
        (["exec", "--definition", "DEFINITION", "--input", "@BINARY"], USAGE),
        (["exec", "--definition", "DEFINITION", "--name", "*"], USAGE),
        (["exec", "--definition", "DEFINITION", "--name", "x" * 10_000], USAGE),
        (["exec", "--definition", "DEFINITION", "--function", "junk"], USAGE),
        (["exec", "--definition", "DEFINITION", "--template", "MISSING"], USAGE),
        (["redrive", "*"], USAGE),
        (["redrive", "x" * 10_000], USAGE),
        (["redrive", "local-none"], MISSING),
        (["lint", "BINARY"], MISSING),
        (["nonsense"], USAGE),
    ],
    ids=lambda v: repr(v)[:60],
)
def test_local_runner(world, argv, codes):
    # a run that rejected the file (its named error) or a lint that found problems: the answer on stdout
    answers = {"BINARY": "error                 InvalidHeader", "EMPTY": "error                 EmptyFile"}
    answer = "cannot read" if argv[0] == "lint" else answers.get(argv[2]) if argv[:2] == ["run", "--csv"] else None
    answer = answer if codes == MISSING else None
    check(run([*LOCAL_RUNNER, *placed(argv, world)], world), codes, world, answer)


@pytest.mark.parametrize(
    "argv",
    [
        ["lint", "BINARY"],
        ["lint", "MISSING"],
        ["exec", "--definition", "BINARY"],
        ["exec", "--definition", "MISSING"],
        ["exec", "--definition", "DEFINITION", "--input", "@MISSING"],
        ["exec", "--definition", "DEFINITION", "--name", "a b"],
        ["exec", "--definition", "DEFINITION", "--function", "F=MISSING:handler"],
        [],
    ],
)
def test_asl_runner(world, argv):
    answer = "cannot read the definition" if argv[:1] == ["lint"] else None  # lint's findings are its answer
    check(run([*ASL_RUNNER, *placed(argv, world)], world), MISSING | USAGE, world, answer)


@pytest.mark.parametrize(
    "assignments",
    [
        ["query", "SQL=SELECT * FROM read_csv('/etc/passwd')"],
        ["query", "SQL=COPY (SELECT 1) TO 'pwned.csv'"],
        ["query", "FILE=BINARY"],
        ["query", "NAMED=failed-rows"],
        ["query", "NAMED=user-history", "PARAMS=`touch pwned` $(touch pwned)"],
        ["invoke", "FN=nope"],
        ["invoke", "FN=worker", "EVENT=BINARY"],
        ["run", "CSV=BINARY", "RUN_ARGS=--no-progress --out PLAIN/out"],
        ["run", "CSV=MISSING"],
        ["run", "ROWS=0"],
    ],
)
def test_make(world, assignments):
    answer = "error                 InvalidHeader" if assignments[:2] == ["run", "CSV=BINARY"] else None
    # 2: make's own code when the program it ran failed; the program said why first
    check(run([*MAKE, *placed(assignments, world)], world), {2}, world, answer)
