"""Both command lines answer what cannot run with exit code 2 and ONE line on stderr
(never a traceback); 0 is a succeeded execution, 1 a failed one."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${Fn}", "End": True}}}


def cli(module, *args, cwd=ROOT):
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(ROOT)},
    )
    return proc.returncode, proc.stdout, proc.stderr


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def assert_cannot_run(rc, stderr, *fragments):
    assert rc == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert all(f in lines[0] for f in fragments), lines[0]


@pytest.fixture(params=["asl_runner", "local_runner"])
def module(request):
    return request.param


def test_a_definition_that_is_not_json(module, tmp_path):
    rc, _, err = cli(module, "exec", "--definition", str(write(tmp_path, "d.json", "{not json")))
    assert_cannot_run(rc, err, "not JSON")


def test_a_definition_that_does_not_exist(module, tmp_path):
    rc, _, err = cli(module, "exec", "--definition", str(tmp_path / "missing.json"))
    assert_cannot_run(rc, err, "missing.json")


def test_an_invalid_definition_names_state_and_field(module, tmp_path):
    d = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Bogus": 1, "End": True}}}
    rc, _, err = cli(module, "exec", "--definition", str(write(tmp_path, "d.json", d)))
    assert_cannot_run(rc, err, "States/A", "Bogus")


def test_bad_input_json(module, tmp_path):
    rc, _, err = cli(module, "exec", "--definition", str(write(tmp_path, "d.json", PASS)), "--input", "{oops")
    assert_cannot_run(rc, err, "--input is not JSON")


def test_a_missing_handler_file(module, tmp_path):
    rc, _, err = cli(
        module,
        "exec",
        "--definition",
        str(write(tmp_path, "d.json", TASK)),
        "--function",
        f"Fn={tmp_path / 'nope.py'}:handler",
    )
    assert_cannot_run(rc, err, "nope.py", "does not exist")


def test_a_handler_that_cannot_be_imported(module, tmp_path):
    handler = write(tmp_path, "h.py", "import not_a_module_anywhere\n")
    rc, _, err = cli(
        module, "exec", "--definition", str(write(tmp_path, "d.json", TASK)), "--function", f"Fn={handler}:handler"
    )
    assert_cannot_run(rc, err, "h.py", "ModuleNotFoundError")


def test_a_handler_file_without_the_function(module, tmp_path):
    handler = write(tmp_path, "h.py", "def other(event, context):\n    return 1\n")
    rc, _, err = cli(
        module, "exec", "--definition", str(write(tmp_path, "d.json", TASK)), "--function", f"Fn={handler}:handler"
    )
    assert_cannot_run(rc, err, "h.py", "'handler'")


def test_an_execution_name_aws_would_refuse(module, tmp_path):
    rc, _, err = cli(module, "exec", "--definition", str(write(tmp_path, "d.json", PASS)), "--name", "a b")
    assert_cannot_run(rc, err, "execution name")


def test_succeeded_is_0_and_failed_is_1(module, tmp_path):
    handler = write(tmp_path, "h.py", "def handler(event, context):\n    return {'n': event['n'] + 1}\n")
    d = str(write(tmp_path, "d.json", TASK))
    rc, out, err = cli(
        module, "exec", "--definition", d, "--function", f"Fn={handler}:handler", "--input", '{"n": 1}', "--json"
    )
    assert rc == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {
        "status": "SUCCEEDED",
        "output": {"n": 2},
        "error": None,
        "cause": None,
    }
    rc, out, _ = cli(
        module, "exec", "--definition", d, "--function", f"Fn={handler}:handler", "--input", "{}", "--json"
    )
    assert rc == 1 and json.loads(out.strip().splitlines()[-1])["error"] == "KeyError"


def test_lint_exit_codes(tmp_path):
    rc, out, _ = cli("asl_runner", "lint", str(write(tmp_path, "ok.json", PASS)))
    assert rc == 0 and out.strip().endswith(": ok")
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    rc, out, _ = cli("asl_runner", "lint", str(write(tmp_path, "bad.json", bad)))
    assert rc == 1 and "'Nowhere'" in out


def test_local_runner_invoke_of_an_unknown_function_is_exit_2(tmp_path):
    event = write(tmp_path, "e.json", {})
    rc, _, err = cli(
        "local_runner",
        "invoke",
        "--function",
        "nope",
        "--event",
        str(event),
        "--database-url",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
    )
    assert_cannot_run(rc, err, "no function 'nope'")


def test_local_runner_invoke_with_a_bad_event_file_is_exit_2(tmp_path):
    rc, _, err = cli("local_runner", "invoke", "--function", "worker", "--event", str(write(tmp_path, "e.json", "{")))
    assert_cannot_run(rc, err, "cannot read the event")
