"""csv-dmap's operator CLI and local analytics (issue 12): ``python -m csv_dmap_cli``.

Reads a deployed stack (``--stack NAME``: resources from the stack's outputs) or the
data the local runs left in ``.local/data`` (``--local``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LAYER = ROOT / "layers" / "shared"

try:  # the shared layer, when the CLI runs from a checkout rather than an installed package
    import csv_dmap  # noqa: F401
except ImportError:  # pragma: no cover - depends on how it is started
    sys.path.insert(0, str(_LAYER))
