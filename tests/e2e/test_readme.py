"""The README's "Your first hour", run as printed: every command of its console blocks, in order,
in a fresh shell (no virtualenv activated, nothing but PATH and HOME), from the checkout, must exit
0 and print what the README shows.

What varies between runs is masked on both sides before comparing: execution names, map-run ids,
times and dates, decimal figures (durations, rates), runs of spaces (column widths follow them),
and the local state's directory (the test keeps it in a temporary one with ``CSV_DMAP_LOCAL``, so
the user's ``.local`` is untouched). Whole numbers are compared as printed: the sample is the same
every time, so the counts are. A ``...`` line in the README stands for any lines; the lines between
two of them must appear together and in order."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git_status

ROOT = Path(__file__).parents[2]
SECTION = "## Your first hour"

_MASKS = [
    (re.compile(r"local-\d{8}T\d{6}-[0-9a-f]{12}"), "<execution>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"), "<time>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "<date>"),
    (re.compile(r"\d[\d,]*\.\d+"), "<decimal>"),
    (re.compile(r"\s+"), " "),
]


def console_blocks(readme: str) -> list[list[tuple[str, list[str]]]]:
    """[(command, the output lines shown after it)] of each ```console block of the section."""
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL):
        steps: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def masked(line: str, local: Path) -> str:
    line = line.replace(str(local), ".local")
    for pattern, replacement in _MASKS:
        line = pattern.sub(replacement, line)
    return line.strip()


def chunks(shown: list[str]) -> list[list[str]]:
    """The shown lines between ``...`` lines."""
    out: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == "...":
            out.append([])
        else:
            out[-1].append(line)
    return [c for c in out if c]


def appears_in_order(shown: list[str], printed: list[str]) -> str | None:
    """None when every chunk of ``shown`` appears in ``printed``, together and in order; else why not."""
    at = 0
    for chunk in chunks(shown):
        for start in range(at, len(printed) - len(chunk) + 1):
            if printed[start : start + len(chunk)] == chunk:
                at = start + len(chunk)
                break
        else:
            return f"not printed (in order, together): {chunk}"
    return None


def fresh_shell(local: Path) -> dict[str, str]:
    """A new login's environment: PATH without any virtualenv, HOME, and the sandbox's local state."""
    path = ":".join(p for p in os.environ.get("PATH", "").split(":") if ".venv" not in p)
    return {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "CSV_DMAP_LOCAL": str(local), "LANG": "C.UTF-8"}


def test_the_readme_commands_run_as_printed(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = console_blocks(readme)
    assert len(blocks) >= 4 and sum(len(b) for b in blocks) >= 8, "the first hour lost its commands"
    local = tmp_path / "local"
    env = fresh_shell(local)
    names: dict[str, str] = {}  # an execution name the README shows -> the one this run made
    before = git_status()
    try:
        for steps in blocks:
            for command, shown in steps:
                for readme_name, actual in names.items():
                    command = command.replace(readme_name, actual)
                done = subprocess.run(
                    ["bash", "-c", command],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
                assert done.returncode == 0, f"$ {command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
                assert "Traceback" not in done.stdout + done.stderr, done.stderr[-2000:]
                printed = [masked(line, local) for line in done.stdout.splitlines()]
                why = appears_in_order([masked(line, local) for line in shown], printed)
                assert why is None, f"$ {command}\n{why}\nprinted:\n" + "\n".join(printed[:60])
                _learn_names(names, shown, done.stdout)
    finally:
        subprocess.run(["make", "-s", "clean-local"], cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)
    assert names, "no command printed an execution name"
    # make run, ./csv-dmap, make query and make clean-local leave the checkout as they found it
    assert git_status() == before


EXECUTION = re.compile(r"local-\d{8}T\d{6}-[0-9a-f]{12}")


def _learn_names(names: dict[str, str], shown: list[str], printed: str) -> None:
    """A run's output names its execution first: map the README's name to this run's."""
    readme_names = [n for line in shown for n in EXECUTION.findall(line) if n not in names]
    actual = [n for n in EXECUTION.findall(printed) if n not in names.values()]
    if readme_names and actual and shown and shown[0].startswith("execution"):
        names[readme_names[0]] = actual[0]


@pytest.mark.parametrize(
    ("shown", "printed", "ok"),
    [
        (["a", "...", "c"], ["a", "b", "c"], True),
        (["a", "b"], ["a", "x", "b"], False),  # together, unless a ... says otherwise
        (["b", "...", "a"], ["a", "b"], False),  # in order
        (["a"], [], False),
    ],
)
def test_the_comparison_itself(shown, printed, ok):
    assert (appears_in_order(shown, printed) is None) is ok
