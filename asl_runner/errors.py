"""Errors of the Amazon States Language, and AWS's limits on them.

References (AWS documentation):
- Error and Cause lengths: Error at most 256 characters, Cause at most 32,768
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionFailedEventDetails.html,
  the same constraint on TaskFailedEventDetails and MapRunFailedEventDetails).
- ``States.ALL`` does not match ``States.DataLimitExceeded`` nor ``States.Runtime``
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
"""

from __future__ import annotations

ERROR_MAX_CHARS = 256
CAUSE_MAX_CHARS = 32_768


class StatesError(Exception):
    """An ASL runtime error with an ``Error`` name and a ``Cause``, capped at AWS's lengths."""

    terminal = False  # a terminal error is never caught nor retried

    def __init__(self, error: str, cause: str = "") -> None:
        self.error = str(error)[:ERROR_MAX_CHARS]
        self.cause = str(cause)[:CAUSE_MAX_CHARS]
        super().__init__(f"{self.error}: {self.cause[:500]}")


class HistoryLimitExceeded(StatesError):
    """The execution history reached its event limit: the execution fails, nothing catches it."""

    terminal = True


def runtime_error(cause: str) -> StatesError:
    return StatesError("States.Runtime", cause)


class DefinitionError(ValueError):
    """The definition is not valid ASL, or uses what the runner does not implement."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def one_line(self) -> str:
        first = self.problems[0] if self.problems else "invalid definition"
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' if more > 1 else ''}: run lint)" if more else "")


def matches(error_equals: list[str], err: StatesError) -> bool:
    """Does a Retrier's or Catcher's ErrorEquals match ``err``?"""
    if err.terminal:
        return False
    for name in error_equals:
        if name == err.error:
            return True
        if name == "States.ALL" and err.error not in ("States.Runtime", "States.DataLimitExceeded"):
            return True
        if name == "States.TaskFailed" and err.error not in (
            "States.Timeout",
            "States.Runtime",
            "States.DataLimitExceeded",
        ):
            return True
    return False
