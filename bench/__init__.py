"""Benchmarks (make bench), the cost model (make cost) and the capacity model (make capacity). Not tests: figures.

The layer (``csv_dmap``) and the repository root are put on the path here, before
any ``bench`` module imports them. Nothing in ``bench`` imports the test suite."""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (str(_ROOT), str(_ROOT / "layers" / "shared")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
