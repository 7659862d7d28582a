"""csv-dmap's operator CLI and local analytics: ``python -m csv_dmap_cli``.

Reads a deployed stack (``--stack NAME``: resources from the stack's outputs) or the
data the local runs left in ``.local/data`` (``--local``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
