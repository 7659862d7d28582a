"""Which recorded scenarios the suite runs, and why the others are not run.

Every snapshot id of LocalStack's recordings (``recorded.json``) is in exactly one place:

- run (``RUN``): a scenario of ``tests/conformance/scenarios`` reproduces it; it is either
  reproduced, or diverged with the reason (``Scenario.diverged``);
- unsupported (``UNSUPPORTED``): outside the subset asl_runner implements; counted, not run;
- not counted (``NOT_COUNTED``): snapshot keys that are no recording of a current test.

Rules match the id after ``tests/aws/services/stepfunctions/`` by prefix; the first rule wins.
"""

from __future__ import annotations

ROOT = "tests/aws/services/stepfunctions/"

JSONATA = "JSONata (QueryLanguage JSONata, Arguments/Output, {% %} expressions)"
VARIABLES = "variables (Assign, $states, variable references)"
ACTIVITIES = "activities"
CALLBACKS = "callbacks and .sync integrations (TaskSubmitted, task tokens, heartbeats)"
SERVICES = "service integrations other than Lambda (SQS, SNS, DynamoDB, EventBridge, ECS, API Gateway, aws-sdk, states)"
EXPRESS = "the Express API (StartSyncExecution, Express execution records)"
LOGS = "execution logging (CloudWatch Logs)"
API = "control-plane API behaviour (create/describe/list/tag/validate/stop, versions, aliases)"
TEST_STATE = "the TestState API"
CREDENTIALS = "cross-account Credentials"
EVENTS = "EventBridge notifications of execution status changes"
LIST_OBJECTS = "ItemReader s3:listObjectsV2 (the runner reads one object with s3:getObject)"
HEARTBEAT = "HeartbeatSeconds(Path) (activities and callbacks)"
LOCALSTACK_ONLY = "LocalStack's own mocked-service configuration"

# Two JSONata recordings whose JSONata only picks values the JSONPath fields pick the same way
# (MaxItems, MaxItemsPerBatch(Path), MaxInputBytesPerBatch(Path), a BatchInput from the context):
# the only recordings of an ItemBatcher and of a MaxItems from the input. Run through their JSONPath
# equivalents (scenarios/map_distributed.py).
JSONPATH_EQUIVALENT = (
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_item_batching_base_json_max_per_batch_jsonata",
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_item_reader_base_json_max_items_jsonata",
)

UNSUPPORTED: tuple[tuple[str, str], ...] = (
    *((test, "") for test in JSONPATH_EQUIVALENT),
    ("v2/activities/", ACTIVITIES),
    ("v2/test_sfn_api_activities.py", ACTIVITIES),
    ("v2/arguments/", JSONATA),
    ("v2/assign/", VARIABLES),
    ("v2/callback/", CALLBACKS),
    ("v2/credentials/", CREDENTIALS),
    ("v2/error_handling/test_aws_sdk.py", SERVICES),
    ("v2/error_handling/test_task_service_dynamodb.py", SERVICES),
    ("v2/error_handling/test_task_service_sfn.py", SERVICES),
    ("v2/error_handling/test_task_service_sqs.py", SERVICES),
    ("v2/evaluate_jsonata/", JSONATA),
    ("v2/express/", EXPRESS),
    ("v2/test_sfn_api_express.py", EXPRESS),
    ("v2/intrinsic_functions/test_array_jsonata.py", JSONATA),
    ("v2/intrinsic_functions/test_json_manipulation_jsonata.py", JSONATA),
    ("v2/intrinsic_functions/test_math_operations_jsonata.py", JSONATA),
    ("v2/local_mocking/test_base_callbacks.py", CALLBACKS),
    ("v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_numbered_mock_responses", JSONATA),
    ("v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_sqs_send_message", SERVICES),
    ("v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_sns_publish_base", SERVICES),
    ("v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_events_put_events", SERVICES),
    ("v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_dynamodb_put_get_item", SERVICES),
    ("v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_lambda_service_invoke_sync_execution", EXPRESS),
    ("v2/logs/", LOGS),
    ("v2/test_sfn_api_logs.py", LOGS),
    ("v2/outputdecl/", JSONATA),
    ("v2/query_language/", JSONATA),
    ("v2/services/test_lambda_task_service.py::TestTaskServiceLambda::test_list_functions", SERVICES),
    ("v2/services/test_lambda_task.py", ""),  # run (Lambda), see scenarios
    ("v2/services/test_lambda_task_service.py", ""),  # run (Lambda), see scenarios
    ("v2/services/", SERVICES),
    ("v2/states_variables/", VARIABLES),
    ("v2/test_sfn_api_variable_references.py", VARIABLES),
    ("v2/test_sfn_api.py", API),
    ("v2/test_sfn_api_aliasing.py", API),
    ("v2/test_sfn_api_map_run.py::TestSnfApiMapRun::test_list_map_runs_and_describe_map_run", API),
    ("v2/test_sfn_api_tagging.py", API),
    ("v2/test_sfn_api_validation.py", API),
    ("v2/test_sfn_api_versioning.py", API),
    ("v2/test_state/", TEST_STATE),
    ("v2/timeouts/test_heartbeats.py", HEARTBEAT),
    ("v2/base/test_base.py::TestSnfBase::test_event_bridge_events_base", EVENTS),
    ("v2/scenarios/test_sfn_scenarios.py::TestFundamental::test_wait_for_callback", CALLBACKS),
    ("v2/scenarios/test_sfn_scenarios.py::TestFundamental::test_step_functions_calling_api_gateway", SERVICES),
    ("v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_item_reader_base_list_objects_v2", LIST_OBJECTS),
    # these three run a definition in QueryLanguage JSONata (Items, Output)
    ("v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_state_items_input_array", JSONATA),
    ("v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_state_items_input_types", JSONATA),
    ("v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_state_items_variable_sampling", JSONATA),
    (
        "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_invalid_jsonpath[ST.INVALID_JSONPATH_IN_HEARTBEAT",
        HEARTBEAT,
    ),
)


# Snapshot keys of tests that were renamed or re-parametrised since (the current ids hold the
# recordings): kept in the snapshot files, validated never.
_RENAMED = (
    "an earlier key of a test since renamed or re-parametrised, never validated (its current id holds the recording)"
)
STALE: dict[str, str] = {
    **{
        f"v2/intrinsic_functions/test_array.py::TestSfnIntrinsicFunctionsArray::{test}": _RENAMED
        for test in ("test_array_get_item", "test_array_length", "test_array_unique")
    },
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_choice_aws_docs_scenario": _RENAMED,
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_choice_singleton_composite": _RENAMED,
    'v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_choice_unsorted_parameters[{"result": {"done": true}}]': (
        _RENAMED
    ),
    'v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_choice_unsorted_parameters[{"result": {"done": false}}]': (
        _RENAMED
    ),
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_item_reader_base_json_with_items_path"
    "[VALID_ITEMS_PATH_FROM_INPUT]": (
        "validated, but its parameter is gone from the test: the ItemsPath (and the object) it ran with are not known"
    ),
}


def unsupported_reason(test_id: str) -> str | None:
    """Why the scenario is outside the runner's subset, or None when it is inside."""
    if not test_id.startswith(ROOT):
        return None
    rest = test_id[len(ROOT) :]
    for prefix, reason in UNSUPPORTED:
        if rest.startswith(prefix):
            return reason or None
    # the tests named for JSONata, wherever they are (e.g. test_choice_aws_docs_scenario[..._JSONATA])
    return JSONATA if "jsonata" in rest.lower() else None


def not_counted(test_id: str) -> str | None:
    """Why a snapshot key is no recording of a current test, or None."""
    if not test_id.startswith(ROOT):
        return "an older key of a test since moved (tests/integration/...), recorded again under its current id"
    return STALE.get(test_id[len(ROOT) :])


def runs(test_id: str) -> bool:
    """Is the scenario inside the runner's subset (and so run by the suite)?"""
    return not_counted(test_id) is None and unsupported_reason(test_id) is None
