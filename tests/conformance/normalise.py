"""How a run of asl_runner is compared with a recording: what may legitimately differ, and nothing else.

Events. A history is compared as the sequence of its events' labels (``Type``, ``Type:state`` or
``Type:map#index``), with two normalisations, applied to the recording and to the run alike:

1. Inside a top-level Parallel or Map state (from its ``StateEntered`` to its ``StateExited``, or to
   the end of the execution when it fails), the events are compared as a multiset: branches and
   iterations run concurrently, so their interleaving is not a fact of the definition (AWS's own
   order varies from one execution to the next). The events before and after are compared in order.
2. For the recordings LocalStack stored through its ``SfnNoneRecursiveParallelTransformer``
   (``localstack-core/localstack/testing/pytest/stepfunctions/utils.py``), whose ids read ``[0]``: that
   transformer sorts the events of a Parallel state and, rewriting the list while it walks it, drops
   the event before each closing event; the run's events go through the same walk
   (``localstack_parallel_walk``) before the comparison.

Values. A recorded value is what LocalStack stored after its transformers: JSON texts that hold
objects were parsed, identifiers replaced with placeholders (``<uuid:1>``, ``<region>``,
``<lambda_function_name>`` ...). So a recorded string is parsed as JSON when it is JSON, a placeholder
matches any text, and in a Lambda stack trace the file and line (``File "/var/task/handler.py", line
2``) are not compared: they say where the handler's file lies, not what Step Functions does.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SPAN_STATES = ("ParallelState", "MapState")
_CLOSING = {"ParallelStateSucceeded", "ParallelStateFailed", "ParallelStateAborted", "ParallelStateExited"}


def _kind(label: str) -> str:
    return label.split(":", 1)[0]


def canonical(labels: list[str]) -> list[str]:
    """Normalisation 1: the events inside each top-level Parallel/Map state, sorted."""
    out: list[str] = []
    i = 0
    while i < len(labels):
        label = labels[i]
        out.append(label)
        i += 1
        kind, _, name = label.partition(":")
        if not (kind.endswith("StateEntered") and kind.removesuffix("Entered") in _SPAN_STATES):
            continue
        closing = f"{kind.removesuffix('Entered')}Exited:{name}"
        inner: list[str] = []
        while i < len(labels) and labels[i] != closing and not labels[i].startswith("Execution"):
            inner.append(labels[i])
            i += 1
        out.extend(sorted(inner))
    return out


def localstack_parallel_walk(labels: list[str]) -> list[str]:
    """Normalisation 2: the structural effect of LocalStack's parallel transformer on a history
    (the order it sorts by does not matter here: ``canonical`` sorts those events again)."""
    events = list(labels)
    start = 0
    inside = False
    sublist: list[str] = []
    i = 0
    while i < len(events):
        kind = _kind(events[i])
        if kind in _CLOSING:
            # the transformer writes its sorted sublist over events[start:i] and walks on with the
            # next index: after the first closing event the slice is longer than the sublist, so
            # the events between are lost and the one after the closing event is not looked at
            events[start:i] = sorted(sublist)
            inside = False
        elif kind == "ParallelStateStarted":
            inside = True
            sublist = []
            start = i + 1
        elif inside:
            sublist.append(events[i])
        i += 1
    return events


# ------------------------------------------------------------------------------------ values

_PLACEHOLDER = re.compile(r"<[^<>\s\"]{1,60}>")
_TRACE_FRAME = re.compile(r'File \\*"[^"\\]*\\*", line \d+')


def _text_pattern(expected: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(expected)
    return re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)


def _frames(text: str) -> str:
    return _TRACE_FRAME.sub('File "handler", line N', text)


def as_recorded(value: Any) -> Any:
    """A recorded value as JSON: LocalStack keeps JSON texts of arrays and scalars as text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def differences(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Where ``actual`` differs from the recorded ``expected`` (placeholders match anything)."""
    if isinstance(expected, dict):
        if isinstance(actual, str):
            actual = as_recorded(actual)  # a Cause recorded parsed, produced as JSON text
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r:.200}"]
        problems = [f"{where}: keys {sorted(expected)} != {sorted(actual)}"] if set(expected) != set(actual) else []
        for key in expected.keys() & actual.keys():
            problems += differences(expected[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r:.200}, got {actual!r:.200}"]
        return [
            p for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for p in differences(e, a, f"{where}[{i}]")
        ]
    if isinstance(expected, str) and isinstance(actual, str):
        if _PLACEHOLDER.search(expected) or "line " in expected:
            if _text_pattern(_frames(expected)).fullmatch(_frames(actual)):
                return []
        elif expected == actual:
            return []
        return [f"{where}: expected {expected!r:.400}, got {actual!r:.400}"]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{where}: expected {expected!r:.200}, got {actual!r:.200}"]
    return []
