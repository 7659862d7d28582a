"""AWS Step Functions quotas the runner enforces, with where they are documented.

- Input or output of a task, state or execution: 256 KiB as a UTF-8 string
  (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Quotas related to
  state machine executions"; the history event details say "Maximum length of 262144",
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_LambdaFunctionScheduledEventDetails.html).
  Exceeding it is ``States.DataLimitExceeded`` for a state's output, and for its input after
  Parameters processing (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
- Execution history of a Standard execution: 25,000 events (service quotas, same page).
- Execution names: 1 to 80 characters, none of whitespace, ``? *``, ``< > { } [ ]``,
  ``" # % \\ ^ | ~ ` $ & , ; : /``, control characters (U+0000-001F, U+007F-009F, U+FFFE-FFFF),
  surrogates (U+D800-DFFF) or U+10FFFF (service quotas, "General quotas"; StartExecution's
  ``name``, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from .errors import HistoryLimitExceeded, StatesError

PAYLOAD_LIMIT = 256 * 1024
HISTORY_EVENT_LIMIT = 25_000
NAME_MAX_CHARS = 80
BAD_NAME_CHARACTER = re.compile(r"[\s?*<>{}\[\]\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff\U0010ffff]")


def payload_bytes(value: Any) -> int:
    """Size of ``value`` as Step Functions measures it: its JSON text in UTF-8."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))


def check_payload(value: Any, what: str) -> None:
    size = payload_bytes(value)
    if size > PAYLOAD_LIMIT:
        raise StatesError(
            "States.DataLimitExceeded",
            f"{what} is {size:,} bytes, above the 262,144-byte (256 KiB) limit of Step Functions",
        )


def check_result(value: Any, source: str) -> None:
    """A state's output or a task's result over the limit, in AWS's words (recorded by AWS:
    LocalStack's snapshots ``test_states_errors.py::TestStatesErrors::test_start_large_input`` and
    ``..._data_limit_exceeded_on_large_utf8_response``): ``source`` is the state's name, a bare
    function's ARN, or the integration's service (``lambda``)."""
    if payload_bytes(value) > PAYLOAD_LIMIT:
        raise StatesError(
            "States.DataLimitExceeded",
            f"The state/task '{source}' returned a result with a size exceeding the maximum number of bytes "
            "service limit.",
        )


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid execution name, or None."""
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        return f"execution name must be 1 to {NAME_MAX_CHARS} characters, got {len(name)}"
    bad = BAD_NAME_CHARACTER.search(name)
    if bad:
        return f"execution name contains {bad.group(0)!r}, which Step Functions does not allow"
    return None


class History:
    """Counts the events AWS would record in an execution's history (roughly: two per
    state, three per task attempt, two per Map iteration or map run ...), thread-safe."""

    def __init__(self, limit: int | None = HISTORY_EVENT_LIMIT) -> None:
        self.limit = limit
        self.events = 0
        self._lock = threading.Lock()

    def add(self, events: int, where: str) -> None:
        with self._lock:
            self.events += events
            count = self.events
        if self.limit is not None and count > self.limit:
            raise HistoryLimitExceeded(
                "States.Runtime",
                f"the execution history reached {self.limit:,} events, the limit of a Standard execution "
                f"(at state {where!r}); a loop that never ends, or too much work for one execution",
            )
