"""The project harness (local_runner): each function in its own environment, even on the
map's thread pool; no project tables for another template; make run's names, seeding and
secrets."""

import json
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

HANDLER = textwrap.dedent("""
    import os, threading
    BARRIER = threading.Barrier(3, timeout=30)  # three invocations of this function at once, or it fails

    def handler(event, context):
        BARRIER.wait()
        return {"me": os.environ.get("ME"), "own": os.environ.get("{own}"), "other": os.environ.get("{other}"),
                "shared": os.environ.get("SHARED")}
""")

TEMPLATE = textwrap.dedent("""
    Globals:
      Function:
        Timeout: 30
        Environment:
          Variables:
            SHARED: both
    Resources:
      AFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: a/
          Handler: app.handler
          Environment:
            Variables: {ME: a, A_ONLY: "1"}
      BFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: b/
          Handler: app.handler
          Environment:
            Variables: {ME: b, B_ONLY: "1"}
      Machine:
        Type: AWS::Serverless::StateMachine
        Properties:
          DefinitionSubstitutions:
            AArn: !GetAtt AFunction.Arn
            BArn: !GetAtt BFunction.Arn
""")


def branch(arn):
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 3,
                "End": True,
                "ItemProcessor": {
                    "StartAt": "Call",
                    "States": {"Call": {"Type": "Task", "Resource": arn, "End": True}},
                },
            }
        },
    }


@pytest.fixture
def project(tmp_path):
    for name, own, other in (("a", "A_ONLY", "B_ONLY"), ("b", "B_ONLY", "A_ONLY")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(HANDLER.replace("{own}", own).replace("{other}", other))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [branch("${AArn}"), branch("${BArn}")]}},
    }
    (tmp_path / "d.json").write_text(json.dumps(definition))
    return tmp_path


def test_each_function_sees_its_own_environment_on_the_map_thread_pool(project):
    import os

    from local_runner.environment import LocalEnvironment
    from local_runner.exec_cli import run_definition

    db = project / "db.sqlite"
    with LocalEnvironment(template_path=project / "template.yaml", database_url=f"sqlite:///{db}") as env:
        result = run_definition(env, project / "d.json", input={"items": list(range(6))})
        harness_view = (os.environ.get("A_ONLY"), os.environ.get("B_ONLY"))
    assert result.status == "SUCCEEDED", result.cause
    a_calls, b_calls = result.output
    assert a_calls == [{"me": "a", "own": "1", "other": None, "shared": "both"}] * 6
    assert b_calls == [{"me": "b", "own": "1", "other": None, "shared": "both"}] * 6
    assert harness_view == ("1", "1")  # between invocations the harness sees every function's variables
    assert not db.exists()  # another template: none of the project's tables


def test_the_project_template_gets_its_tables(tmp_path):
    from sqlalchemy import create_engine, inspect

    from local_runner.environment import LocalEnvironment

    db = tmp_path / "db.sqlite"
    with LocalEnvironment(database_url=f"sqlite:///{db}"):
        pass
    engine = create_engine(f"sqlite:///{db}")
    assert {"users", "user_stats"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_execution_names_are_unique_within_a_second_and_valid_for_aws():
    from local_runner.run import execution_name

    moment = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    names = [execution_name(moment) for _ in range(2000)]
    assert len(set(names)) == 2000
    # AWS: 1-80 characters; no whitespace, ? * < > { } [ ] " # % \\ ^ | ~ ` $ & , ; : / or control characters
    forbidden = re.compile(r"[\s?*<>{}\[\]\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
    assert all(1 <= len(n) <= 80 and not forbidden.search(n) for n in names)
    assert all(n.startswith("local-20261123T120000-") for n in names)


def test_database_url_password_is_masked():
    from local_runner.pipeline import _masked, mask_url

    url = "mysql+pymysql://app:Sup3r%40Secret@db.example:3306/csv_dmap"
    masked = mask_url(url)
    assert "Sup3r" not in masked and "***" in masked and "db.example" in masked
    assert "Sup3r@Secret" not in _masked("connect to app:Sup3r@Secret failed", url)


CSV_ROWS = [("U0000001", 1, 2), ("U0000002", 3, 4), ("bad id", 5, 6), ("U0000003", 7, 8)]


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_seeding_reads_every_encoding_the_pipeline_accepts(tmp_path, encoding):
    from local_runner.layer import CsvRecords

    path = tmp_path / "f.csv"
    text = "ユーザーID,ログイン回数,投稿回数\r\n" + "".join(f"{u},{a},{b}\r\n" for u, a, b in CSV_ROWS)
    path.write_bytes(text.encode(encoding))
    records = CsvRecords(path)
    assert list(records.user_ids()) == ["U0000001", "U0000002", "U0000003"]
    assert records.count == 4


def test_seeding_a_file_in_no_supported_encoding_seeds_nothing_and_does_not_crash(tmp_path):
    from local_runner.layer import CsvRecords

    path = tmp_path / "f.csv"
    path.write_bytes(b"user_id,login_count,post_count\n" + bytes([0x81, 0xFF, 0xFE, 0x80]) * 10 + b"\n")
    assert list(CsvRecords(path).user_ids()) == []


@pytest.mark.mariadb
def test_make_run_on_a_cp932_file_with_a_password_in_the_url(tmp_path, mariadb_url):
    """The whole `make run CSV=...`: a CP932 file is seeded and run; the password is nowhere in the output."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(mariadb_url)
    password, user = "Pw-runner-7Qz", "runner_masked"
    admin = create_engine(mariadb_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        conn.execute(text(f"GRANT ALL ON `{url.database}`.* TO '{user}'@'%'"))
    admin.dispose()
    secret_url = url.set(username=user, password=password).render_as_string(hide_password=False)
    csv = tmp_path / "sjis.csv"
    csv.write_bytes(
        ("ユーザーID,ログイン回数,投稿回数\r\n" + "".join(f"{u},{a},{b}\r\n" for u, a, b in CSV_ROWS)).encode("cp932")
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "local_runner",
            "run",
            "--csv",
            str(csv),
            "--no-progress",
            "--json",
            "--database-url",
            secret_url,
            "--out",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    summary_file = (out / "summary.json").read_text() if (out / "summary.json").exists() else ""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["rows"], summary["applied"], summary["failed"]) == (4, 3, 1)
    assert summary["outputs"]["database"] == f"mysql+pymysql://{user}:***@{url.host}:{url.port}/{url.database}"
    for text_ in (proc.stdout, proc.stderr, summary_file):
        assert password not in text_


def test_a_handler_asked_for_by_many_children_at_once_is_imported_once(tmp_path):
    """The map's children load their function concurrently on a cold start: one module, one
    container's state (two copies of a module made two barriers above, and a flaky hang)."""
    import threading

    from asl_runner.services import load_handler

    marker = tmp_path / "imports.txt"
    (tmp_path / "fn.py").write_text(
        "import time\n"
        f"with open({str(marker)!r}, 'a') as fh:\n    fh.write('x')\n"
        "time.sleep(0.2)  # a slow cold start widens the window\n"
        "def handler(event, context):\n    return event\n"
    )
    start, got = threading.Barrier(8), []

    def load():
        start.wait()
        got.append(load_handler(tmp_path / "fn.py", "handler"))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 8 and len({id(h) for h in got}) == 1
    assert marker.read_text() == "x"


def test_a_redrive_compares_databases_by_what_they_name(tmp_path, monkeypatch):
    from local_runner.redrive import database_identity

    monkeypatch.chdir(tmp_path)
    assert database_identity("sqlite:///x.db") == f"sqlite:///{tmp_path / 'x.db'}"  # relative: from here
    assert database_identity(f"sqlite:///{tmp_path}/x.db") == f"sqlite:///{tmp_path}/x.db"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert database_identity("sqlite:///x.db") != f"sqlite:///{tmp_path / 'x.db'}"  # same text, another file
    masked = "mysql+pymysql://root:***@127.0.0.1:3306/test"
    assert database_identity(masked) == masked


def test_a_database_that_cannot_be_reached_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    from local_runner.__main__ import main

    monkeypatch.setenv("CSV_DMAP_LOCAL_DATA", str(tmp_path / "data"))
    url = "mysql+pymysql://root:secret@127.0.0.1:1/nothing"  # port 1: nothing listens
    code = main(["run", "--rows", "10", "--no-progress", "--out", str(tmp_path / "out"), "--database-url", url])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: cannot use the database mysql+pymysql://root:***@127.0.0.1:1/")
    assert "secret" not in err[0]
