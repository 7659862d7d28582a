"""template.yaml and the definition agree with each other and with the code."""

import json
import re
from pathlib import Path

from csv_dmap import errors
from local_runner.template import functions, load_template

ROOT = Path(__file__).parents[2]
TEMPLATE = load_template()
DEFINITION_TEXT = (ROOT / "statemachine" / "definition.asl.json").read_text()
DEFINITION = json.loads(DEFINITION_TEXT)


def test_every_function_has_its_handler_and_a_sample_event():
    specs = functions(TEMPLATE)
    assert {s.code_uri.name for s in specs.values()} == {
        "worker",
        "validate_input",
        "concurrency_calculator",
        "error_aggregator",
        "daily_report",
        "start_run",
        "run_status",
        "schema_migrator",
    }
    for spec in specs.values():
        assert spec.module_path.exists(), spec.module_path
        assert "def lambda_handler" in spec.module_path.read_text()
        assert (ROOT / "events" / f"{spec.code_uri.name}.json").exists()


def test_definition_substitutions_match_the_placeholders():
    props = TEMPLATE["Resources"]["CsvDmapStateMachine"]["Properties"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", DEFINITION_TEXT))
    assert placeholders == set(props["DefinitionSubstitutions"])


def test_validate_input_catches_every_input_rejection_by_name():
    rejected = {
        cls.__name__
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.InputRejected) and cls is not errors.InputRejected
    }
    (catch,) = DEFINITION["States"]["ValidateInput"]["Catch"]  # the file's own faults, and nothing else
    assert set(catch["ErrorEquals"]) == rejected
    guard = DEFINITION["States"][catch["Next"]]
    assert guard["Type"] == "Choice"  # Cause is "usually" present: checked before StringToJson reads it
    assert guard["Choices"][0]["And"][0] == {"Variable": "$.error.Cause", "IsPresent": True}
    assert DEFINITION["States"][guard["Choices"][0]["Next"]]["Type"] == "Pass"
    assert DEFINITION["States"][guard["Default"]]["Type"] == "Fail"


def test_worker_retries_name_real_error_classes():
    retry = DEFINITION["States"]["ProcessUserStats"]["ItemProcessor"]["States"]["ApplyBatch"]["Retry"]
    timeouts = {"States.Timeout", "Sandbox.Timedout"}  # Lambda timeouts, seen by Step Functions
    names = {n for r in retry for n in r["ErrorEquals"] if not n.startswith("Lambda.")} - timeouts
    assert names == {"TransientDatabaseError", "AuditWriteError"}
    assert all(isinstance(getattr(errors, n), type) for n in names)
    assert all(r.get("JitterStrategy") == "FULL" for r in retry)


def test_map_reads_the_validated_object_and_counts_rows_under_the_original_key():
    m = DEFINITION["States"]["ProcessUserStats"]
    assert m["ItemReader"]["Parameters"] == {"Bucket.$": "$.validation.bucket", "Key.$": "$.validation.key"}
    assert m["ItemBatcher"]["BatchInput"]["sourceKey.$"] == "$.validation.sourceKey"  # the key ValidateInput read
    assert m["ItemBatcher"]["MaxInputBytesPerBatch"] < 262144  # room for BatchInput: tests/deploy/test_time_budget.py
    assert "Catch" not in m and "Retry" not in m  # a map failure is left to RedriveExecution


def test_the_schema_is_migrated_before_the_worker_code_is_deployed():
    """A release's worker may need its migration (applied_batches); the previous worker ignores
    what a migration adds, so migrating first is safe in both directions."""
    assert TEMPLATE["Resources"]["WorkerFunction"].get("DependsOn") == "DatabaseSchema"


def test_the_staging_copy_outlives_the_redrive_window():
    """A redriven map reads ValidateInput's copy again; RedriveExecution is allowed within 14 days
    of the execution's end (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html),
    so the copy must not expire before (the run itself adds up to a day)."""
    rules = TEMPLATE["Resources"]["InputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (staging,) = [r for r in rules if r.get("Prefix") == "staging/"]
    assert staging["ExpirationInDays"] >= 14 + 1
    replaced = [r for r in rules if "NoncurrentVersionExpiration" in r and not r.get("Prefix")]
    assert all(r["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 15 for r in replaced)  # the reject file reads it
