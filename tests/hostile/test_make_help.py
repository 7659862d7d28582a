"""``make help`` lists every documented target once, under its group, the groups in a fixed order."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
GROUPS = ["run", "operate", "test", "deploy", "bench", "housekeeping"]


def test_help_groups_every_target_once_in_order():
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    headings = [line[:-1] for line in done.stdout.splitlines() if line and not line.startswith(" ")]
    assert headings == GROUPS
    listed = re.findall(r"^  make (\S+) ", done.stdout, flags=re.MULTILINE)
    documented = re.findall(r"^([a-z0-9-]+):.*## ", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert sorted(listed) == sorted(documented) and len(set(listed)) == len(listed)
    assert "make run " in done.stdout.split("operate:")[0]  # run is listed under run
