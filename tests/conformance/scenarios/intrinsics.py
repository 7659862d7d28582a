"""Intrinsic functions: ``v2/intrinsic_functions/*`` (JSONPath).

Each recording holds one execution per input (``exec_hist_resp_<n>``): a Pass state whose
Parameters put one intrinsic function's result at FunctionResult. The runs here take the recorded
inputs and a definition of ours with the same call.
"""

from __future__ import annotations

from .. import recorded
from ..harness import Run, Scenario
from .common import end, machine, sid

_CALLS = {
    "test_array.py::TestArray::test_array_0": "States.Array()",
    "test_array.py::TestArray::test_array_2": "States.Array($.FunctionInput.fst, $.FunctionInput.snd)",
    "test_array.py::TestArray::test_array_contains": "States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)",
    "test_array.py::TestArray::test_array_get_item": "States.ArrayGetItem($.FunctionInput.fst, $.FunctionInput.snd)",
    "test_array.py::TestArray::test_array_length": "States.ArrayLength($.FunctionInput)",
    "test_array.py::TestArray::test_array_partition": "States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)",
    "test_array.py::TestArray::test_array_range": (
        "States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)"
    ),
    # the test ran ArrayLength on its ArrayUnique input: that is what was recorded
    "test_array.py::TestArray::test_array_unique": "States.ArrayLength($.FunctionInput)",
    "test_encode_decode.py::TestEncodeDecode::test_base_64_encode": "States.Base64Encode($.FunctionInput)",
    "test_encode_decode.py::TestEncodeDecode::test_base_64_decode": "States.Base64Decode($.FunctionInput)",
    "test_generic.py::TestGeneric::test_format_1": "States.Format('Formatting argument {}.', $.FunctionInput)",
    "test_generic.py::TestGeneric::test_format_2": (
        "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)"
    ),
    "test_generic.py::TestGeneric::test_context_json_path": (
        "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)"
    ),
    "test_generic.py::TestGeneric::test_nested_calls_1": "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)",
    "test_generic.py::TestGeneric::test_nested_calls_2": (
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
        "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))"
    ),
    # a new line inside the definition's string literals
    "test_generic.py::TestGeneric::test_escape_sequence": "States.StringSplit('Hello\nWorld', '\n')",
    "test_hash_calculations.py::TestHashCalculations::test_hash": "States.Hash($.FunctionInput.fst, $.FunctionInput.snd)",
    "test_json_manipulation.py::TestJsonManipulation::test_string_to_json": "States.StringToJson($.FunctionInput)",
    "test_json_manipulation.py::TestJsonManipulation::test_json_to_string": "States.JsonToString($.FunctionInput)",
    "test_json_manipulation.py::TestJsonManipulation::test_json_merge": (
        "States.JsonMerge($.FunctionInput.fst, $.FunctionInput.snd, false)"
    ),
    "test_math_operations.py::TestMathOperations::test_math_add": "States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)",
    "test_math_operations.py::TestMathOperations::test_math_random": "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd)",
    "test_math_operations.py::TestMathOperations::test_math_random_seeded": (
        "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)"
    ),
    "test_string_operations.py::TestStringOperations::test_string_split": (
        "States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)"
    ),
    "test_string_operations.py::TestStringOperations::test_string_split_context_object": (
        "States.StringSplit($$.Execution.Input.FunctionInput, ',')"
    ),
    "test_unique_id_generation.py::TestUniqueIdGeneration::test_uuid": "States.UUID()",
}
# what the recording put in place of values that change from run to run (LocalStack's transformers)
_PLACEHOLDERS = {
    "test_math_random": {"FunctionResult": "RandomNumberGenerated"},
    "test_math_random_seeded": {"FunctionResult": "RandomNumberGenerated"},
    "test_uuid": {"FunctionResult": "generated-uuid"},
}


# the generic tests name their state State0, the others State_0
_STATE0 = ("test_nested_calls_1", "test_nested_calls_2", "test_escape_sequence")


def _scenario(test: str, call: str) -> Scenario:
    test_id = sid(f"intrinsic_functions/{test}")
    state = "State0" if test.endswith(_STATE0) else "State_0"
    definition = machine({state: end({"Type": "Pass", "Parameters": {"FunctionResult.$": call}})})
    runs = tuple(Run(definition, history["input"], key=key) for key, history in recorded.facts(test_id).items())
    return Scenario(test_id, runs, field_placeholders=_PLACEHOLDERS.get(test.rsplit("::", 1)[1], {}))


SCENARIOS = [_scenario(test, call) for test, call in _CALLS.items()]
SCENARIOS.append(
    Scenario(
        sid("intrinsic_functions/test_json_manipulation.py::TestJsonManipulation::test_json_merge_escaped_argument"),
        (
            Run(
                machine(
                    {
                        "StartState": end(
                            {
                                "Type": "Pass",
                                "ResultPath": "$.result_path",
                                "Parameters": {
                                    "merged.$": (
                                        'States.JsonMerge(States.StringToJson(\'{"constant_in_literal": "false"}\'), '
                                        "$$.Execution.Input.input_field, false)"
                                    )
                                },
                                "OutputPath": "$.result_path.merged",
                            }
                        )
                    }
                ),
                {"input_field": {"constant_input_field": "constant_value"}},
            ),
        ),
    )
)
