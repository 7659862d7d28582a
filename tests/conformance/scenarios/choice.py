"""Choice comparison operators: ``v2/choice_operators/*``.

Each recording holds ``cases``: one execution per (Variable, Value) input, and its output. The runs
here take those recorded inputs, and put the operator and (for the operators without ``Path``) the
Value as a literal into a Choice rule of a definition of ours.
"""

from __future__ import annotations

from typing import Any

from .. import recorded
from ..harness import Run, Scenario
from .common import end, machine, sid

_TESTS = {
    "choice_operators/test_boolean_equals.py::TestBooleanEquals": ("test_boolean_equals", "test_boolean_equals_path"),
    "choice_operators/test_is_operators.py::TestIsOperators": (
        "test_is_boolean",
        "test_is_null",
        "test_is_numeric",
        "test_is_present",
        "test_is_string",
    ),
    "choice_operators/test_numeric.py::TestNumerics": tuple(
        f"test_numeric_{op}{path}"
        for op in ("equals", "greater_than", "greater_than_equals", "less_than", "less_than_equals")
        for path in ("", "_path")
    ),
    "choice_operators/test_string_operators.py::TestStrings": tuple(
        f"test_string_{op}{path}"
        for op in ("equals", "greater_than", "greater_than_equals", "less_than", "less_than_equals")
        for path in ("", "_path")
    ),
    "choice_operators/test_timestamp_operators.py::TestTimestamps": tuple(
        f"test_timestamp_{op}{path}"
        for op in ("equals", "greater_than", "greater_than_equals", "less_than", "less_than_equals")
        for path in ("", "_path")
    ),
}


def _definition(operator: str, value: Any) -> dict[str, Any]:
    operand = "$.Value" if operator.endswith("Path") else value
    return machine(
        {
            "CheckValues": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.Variable", operator: operand, "Next": "ConditionTrue"}],
                "Default": "ConditionFalse",
            },
            # a Result is never evaluated: its "x.$" keys stay as they are
            "ConditionTrue": end({"Type": "Pass", "Result": {"TestResult.$": "ConditionTrue"}}),
            "ConditionFalse": end({"Type": "Pass", "Result": {"TestResult.$": "ConditionFalse"}}),
        }
    )


# The recordings show every timestamp as "date" (a LocalStack transformer): the inputs of the
# timestamp operators are these two instants, in this order (LocalStack's test_timestamp_operators.py).
_T0, _T1 = "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z"
_BOTH = [(_T0, _T0), (_T0, _T1), (_T1, _T0)]
_OTHERS = [None, 0, 0.0, 1, 1.1, "", " ", "2023-02-24 12:15:56.832957", [], [""], {}, {"A": 0}, False, True]
_TIMESTAMP_INPUTS = {
    "TimestampEquals": [(v, _T0) for v in _OTHERS] + _BOTH,
    "TimestampGreaterThanPath": [(_T0, _T1)],
    "TimestampGreaterThanEqualsPath": [(_T0, _T1)],
    "TimestampLessThanPath": [(_T1, _T0)],
    "TimestampLessThanEqualsPath": [(_T1, _T0)],
}


def _scenario(test_id: str, test: str) -> Scenario:
    operator = "".join(word.capitalize() for word in test.removeprefix("test_").split("_"))
    cases = recorded.facts(test_id)["cases"]
    inputs = [case["input"] for case in cases]
    substitutions = {}
    if operator.startswith("Timestamp"):
        inputs = [{"Variable": v, "Value": t} for v, t in _TIMESTAMP_INPUTS.get(operator, _BOTH)]
        substitutions = {_T0: "date", _T1: "date"}
    runs = [Run(_definition(operator, input["Value"]), input, key=f"cases/{n}") for n, input in enumerate(inputs)]
    return Scenario(test_id, tuple(runs), substitutions=substitutions)


SCENARIOS = [_scenario(sid(f"{cls}::{test}"), test) for cls, tests in _TESTS.items() for test in tests]
