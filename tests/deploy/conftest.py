"""Translate template.yaml as SAM does, for every parameter set of the matrix, then run cfn-lint
and checkov on the translations: once per session, into a temporary directory.

The tools live in their own virtualenvs (`make test` creates them: .venv-sam from
requirements-sam.txt, .venv-checkov from requirements-checkov.txt); their absence fails the
tests, it never skips them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local_runner.template import load_template
from tests.deploy.matrix import conditions, parameter_sets

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
CFN_LINT = ROOT / ".venv-sam" / "bin" / "cfn-lint"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETER_SETS = parameter_sets(TEMPLATE)


@dataclass
class Translation:
    name: str
    parameters: dict[str, str]
    path: Path
    template: dict[str, Any] = field(repr=False)
    conditions: dict[str, bool] = field(repr=False)
    cfn_lint: list[dict[str, Any]] = field(default_factory=list, repr=False)
    checkov_failed: list[dict[str, Any]] = field(default_factory=list, repr=False)
    checkov_skipped: list[dict[str, Any]] = field(default_factory=list, repr=False)
    checkov_passed: int = 0

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Resources of a type that exist in this configuration (their Condition holds)."""
        return {
            lid: r
            for lid, r in self.template["Resources"].items()
            if r["Type"] == kind and self.conditions.get(r.get("Condition", ""), True)
        }


def _tool(path: Path) -> Path:
    if not path.exists():
        pytest.fail(
            f"{path.relative_to(ROOT)} is missing: `make {path.parent.parent.name}/.installed` creates it",
            pytrace=False,
        )
    return path


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "ap-northeast-1")}
    return subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=600, **kwargs)


# What checkov's AWS secret access key pattern matches (checkov/common/util/secrets.py): the
# `__file__` bookkeeping key it leaves in every mapping holds the file's path, so no path may have one.
_SECRET_KEY_LIKE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")


def _file_name(configuration: str) -> str:
    """`everything+DatabaseMode=existing` -> `everything-DatabaseMode-existing.json`."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", configuration) + ".json"
    assert not _SECRET_KEY_LIKE.search(f"./{name}"), f"{name} looks like a secret to checkov's CKV_AWS_45"
    return name


def _checkov_reports(out: str) -> list[dict[str, Any]]:
    data = json.loads(out)
    return data if isinstance(data, list) else [data]


@pytest.fixture(scope="session")
def translations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Translation]:
    directory = tmp_path_factory.mktemp("translations")
    result: dict[str, Translation] = {}
    for name, params in PARAMETER_SETS.items():
        path = directory / _file_name(name)
        done = _run(
            [
                str(_tool(SAM_PYTHON)),
                str(ROOT / "tests" / "deploy" / "translate.py"),
                str(ROOT / "template.yaml"),
                json.dumps(params),
                str(path),
            ]
        )
        assert done.returncode == 0, f"SAM cannot translate the template with {name}: {done.stderr[-3000:]}"
        result[name] = Translation(name, params, path, json.loads(path.read_text()), conditions(TEMPLATE, params))
    by_path = {str(t.path): t for t in result.values()}

    lint = _run([str(_tool(CFN_LINT)), "--format", "json", *by_path])
    for match in json.loads(lint.stdout or "[]"):
        by_path[match["Filename"]].cfn_lint.append(match)

    # checkov is given the directory as "." from inside it: its parser records each mapping's file
    # path under a `__file__` key, and CKV_AWS_45 scans that key like an environment variable, so an
    # absolute path such as .../pytest-93/translations0/everything+DatabaseMode-... (a run of 40
    # characters of a secret access key's alphabet) failed every function by chance.
    scan = _run(
        [
            str(_tool(CHECKOV)),
            "--directory",
            ".",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
        ],
        cwd=directory,
    )
    assert scan.stdout.strip(), f"checkov printed nothing: {scan.stderr[-3000:]}"
    for report in _checkov_reports(scan.stdout):
        results = report.get("results") or {}
        for check in results.get("failed_checks", []):
            by_path[str(directory / check["file_path"].lstrip("/"))].checkov_failed.append(check)
        for check in results.get("skipped_checks", []):
            by_path[str(directory / check["file_path"].lstrip("/"))].checkov_skipped.append(check)
        for check in results.get("passed_checks", []):
            by_path[str(directory / check["file_path"].lstrip("/"))].checkov_passed += 1
    return result


@pytest.fixture(params=sorted(PARAMETER_SETS))
def translation(request: pytest.FixtureRequest, translations: dict[str, Translation]) -> Translation:
    return translations[request.param]
