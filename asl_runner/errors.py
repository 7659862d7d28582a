"""Errors of the Amazon States Language, and AWS's limits on them.

References (AWS documentation):
- Error and Cause lengths: Error at most 256 characters, Cause at most 32,768
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionFailedEventDetails.html,
  the same constraint on TaskFailedEventDetails and MapRunFailedEventDetails).
- ``States.ALL`` does not match ``States.DataLimitExceeded`` nor ``States.Runtime``
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), except the
  ``States.DataLimitExceeded`` of a task whose result is over the limit: AWS catches that one with
  ``States.ALL``, for ``lambda:invoke`` and a bare function ARN alike (recorded by AWS, 2024-03-21:
  LocalStack's snapshots ``test_states_errors.py::TestStatesErrors::test_service_task_lambada_catch_state_all_data_limit_exceeded_on_large_utf8_response``
  and ``...::test_task_lambda_catch_state_all_data_limit_exceeded_on_large_utf8_response``).
"""

from __future__ import annotations

ERROR_MAX_CHARS = 256
CAUSE_MAX_CHARS = 32_768


class StatesError(Exception):
    """An ASL runtime error with an ``Error`` name and a ``Cause``, capped at AWS's lengths."""

    terminal = False  # a terminal error is never caught nor retried
    located = False  # its Cause names the state it happened in (``located``)
    task_result = False  # a task's result over the size limit (``matches``)

    def __init__(self, error: str, cause: str = "") -> None:
        self.error = str(error)[:ERROR_MAX_CHARS]
        self.cause = str(cause)[:CAUSE_MAX_CHARS]
        super().__init__(f"{self.error}: {self.cause[:500]}")


class HistoryLimitExceeded(StatesError):
    """The execution history reached its event limit: the execution fails, nothing catches it."""

    terminal = True


class ExecutionTimedOut(StatesError):
    """The execution ran longer than its definition's TimeoutSeconds: it ends TIMED_OUT, nothing catches it."""

    terminal = True

    def __init__(self) -> None:
        super().__init__("States.Timeout", "")


def runtime_error(cause: str) -> StatesError:
    return StatesError("States.Runtime", cause)


def located(err: StatesError, state: str, entered_event_id: int) -> StatesError:
    """A ``States.Runtime`` error of a state's own processing (a path, a template, a setting), with
    the Cause AWS gives it: "An error occurred while executing the state 'S' (entered at the event
    id #N). <what>" (recorded by AWS, e.g. LocalStack's snapshot ``test_invalid_jsonpath``).
    Errors of a task, a Fail state or a nested state come as they are."""
    if err.error != "States.Runtime" or err.terminal or err.located:
        return err
    where = StatesError(
        err.error,
        f"An error occurred while executing the state '{state}' (entered at the event id #{entered_event_id}). "
        f"{err.cause}",
    )
    where.located = True
    return where


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
        if name == "States.ALL" and (
            err.error not in ("States.Runtime", "States.DataLimitExceeded") or err.task_result
        ):
            return True
        if name == "States.TaskFailed" and err.error not in (
            "States.Timeout",
            "States.Runtime",
            "States.DataLimitExceeded",
        ):
            return True
    return False
