"""What a local run is doing, phase by phase: a line on stderr when a phase starts and when it
ends (above the progress bar while one runs), and the seconds each took, for the summary and the
benchmarks. The steps of the state machine other than the map (ValidateInput, AggregateErrors,
...) are phases too: ``TemplateServices`` reports each invocation of their functions."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# The template's functions as the state machine names their steps (the map's worker is the map).
STEPS = {
    "ValidateInputFunction": "ValidateInput",
    "ConcurrencyCalculatorFunction": "DetermineConcurrency",
    "ErrorAggregatorFunction": "AggregateErrors",
    "RunStatusFunction": "RunStatus",
}


class Phases:
    """Seconds per phase, in the order they first ran; with ``show``, a line as each ends."""

    def __init__(self, show: bool = False, stream: TextIO | None = None) -> None:
        self.show = show
        self.stream = stream
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._open: dict[str, float] = {}

    def _say(self, text: str) -> None:
        if not self.show:
            return
        from tqdm import tqdm

        tqdm.write(text, file=self.stream or sys.stderr)  # above a progress bar, if one runs

    def start(self, name: str, detail: str = "") -> None:
        with self._lock:
            self._open[name] = time.monotonic()
        self._say(f"{name}: {detail}" if detail else f"{name} ...")

    def end(self, name: str, detail: str = "") -> float:
        with self._lock:
            began = self._open.pop(name, None)
            seconds = time.monotonic() - began if began is not None else 0.0
            self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 2)
        self._say(f"{name}: done in {seconds:.1f} s" + (f" ({detail})" if detail else ""))
        return seconds

    @contextmanager
    def phase(self, name: str, detail: str = "") -> Iterator[None]:
        self.start(name, detail)
        try:
            yield
        finally:
            self.end(name)

    def function_started(self, logical_id: str) -> None:
        step = STEPS.get(logical_id)
        if step:
            self.start(step, _DOING.get(step, ""))

    def function_ended(self, logical_id: str) -> None:
        step = STEPS.get(logical_id)
        if step:
            self.end(step)


_DOING = {
    "ValidateInput": "reading the file (encoding, header, duplicates) and writing its normalised copy",
    "DetermineConcurrency": "choosing the batch size and the workers",
    "AggregateErrors": "counting every row from the result files and writing the per-row dataset",
    "RunStatus": "recording how the run ended",
}
