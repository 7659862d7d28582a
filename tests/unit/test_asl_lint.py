"""The strict ASL check rejects what AWS rejects, including the fields the specification used that AWS does not have."""

import copy
import json
from pathlib import Path

import pytest

from asl_runner.lint import lint, lint_file

DEFINITION = Path(__file__).parents[2] / "statemachine" / "definition.asl.json"


@pytest.fixture
def definition():
    return json.loads(DEFINITION.read_text())


def map_state(d):
    return d["States"]["ProcessUserStats"]


def test_the_project_definition_passes():
    assert lint_file(DEFINITION) == []


def test_seed_max_batch_size_is_rejected(definition):
    map_state(definition)["ItemBatcher"] = {"MaxBatchSize": 25, "MaxInputBytesPerBatch": 262144}
    errors = lint(definition)
    assert any("MaxBatchSize" in e and "ItemBatcher" in e for e in errors), errors


def test_seed_item_reader_range_is_rejected(definition):
    map_state(definition)["ItemReader"]["Parameters"]["Range"] = "bytes=0-104857600"
    assert any("Range" in e for e in lint(definition))


def test_a_string_where_a_number_is_required_is_rejected(definition):
    map_state(definition)["ItemBatcher"]["MaxInputBytesPerBatch"] = "262144"
    assert any("MaxInputBytesPerBatch" in e and "integer" in e for e in lint(definition))


def test_max_input_bytes_above_256_kib_is_rejected(definition):
    map_state(definition)["ItemBatcher"]["MaxInputBytesPerBatch"] = 262145
    assert any("262144" in e for e in lint(definition))


def test_next_to_a_missing_state_is_rejected(definition):
    definition["States"]["DetermineConcurrency"]["Next"] = "Nowhere"
    errors = lint(definition)
    assert any("'Nowhere'" in e for e in errors), errors
    assert any("ProcessUserStats: state is not reachable" in e for e in errors), errors


def test_next_and_end_together_are_rejected(definition):
    map_state(definition)["End"] = True
    assert lint(definition) == ["States/ProcessUserStats: exactly one of Next and End is required"]


def test_seed_context_fields_that_do_not_exist_are_rejected(definition):
    map_state(definition)["ItemBatcher"]["BatchInput"]["batchId.$"] = "$$.Map.Item.BatchId"
    errors = lint(definition)
    assert any("$$.Map.Item.BatchId does not exist" in e for e in errors), errors


def test_map_item_outside_item_selector_is_rejected(definition):
    definition["States"]["DescribeRejection"]["Parameters"]["i.$"] = "$$.Map.Item.Index"
    assert any("only available in a Map state's ItemSelector" in e for e in lint(definition))


def test_unknown_retry_field_and_jitter_value_are_rejected(definition):
    retry = map_state(definition)["ItemProcessor"]["States"]["ApplyBatch"]["Retry"][0]
    bad = copy.deepcopy(definition)
    retry["Jitter"] = "FULL"
    assert any("Jitter" in e for e in lint(definition))
    bad_retry = map_state(bad)["ItemProcessor"]["States"]["ApplyBatch"]["Retry"][0]
    bad_retry["JitterStrategy"] = "SOME"
    assert any("SOME" in e for e in lint(bad))


def test_seed_result_selector_stats_are_rejected(definition):
    map_state(definition)["ResultSelector"] = {"failed.$": "$$.Map.Item.Stats.Failed"}
    errors = lint(definition)
    assert len(errors) == 1, errors
    assert errors[0].startswith("States/ProcessUserStats/ResultSelector/failed.$: ")
    assert "$$.Map.Item.Stats.Failed does not exist" in errors[0]


def test_unknown_state_type_is_rejected(definition):
    definition["States"]["RunSucceeded"]["Type"] = "Finish"
    errors = lint(definition)
    assert len(errors) == 1, errors
    assert errors[0].startswith("States/RunSucceeded: ") and "'Finish'" in errors[0], errors
