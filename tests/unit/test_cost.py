"""The cost model's arithmetic: what each setting changes, not its absolute figures."""

from dataclasses import replace

from bench.cost import PRICES, estimate, project_default, seed_config


def test_defaults_come_from_the_template_and_the_definition():
    config = project_default(1_000_000)
    assert (config.batch, config.children, config.concurrency, config.audit_ttl_days) == (500, "EXPRESS", 10, 180)


def test_express_children_cost_less_than_standard_for_short_workers():
    base = project_default(1_000_000)
    express = estimate(base)
    standard = estimate(replace(base, children="STANDARD"))
    transitions = standard["lines"]["Map children (STANDARD transitions)"]
    assert transitions == express["batches"] * PRICES["stepFunctions"]["standardPerStateTransition"]
    assert express["lines"]["Map children (EXPRESS requests + duration)"] < transitions


def test_batch_size_drives_the_number_of_children():
    small = estimate(replace(project_default(1_000_000), batch=25))
    large = estimate(project_default(1_000_000))
    assert (small["batches"], large["batches"]) == (40_000, 2_000)
    assert small["perMillionRowsWithoutAudit"] > large["perMillionRowsWithoutAudit"]


def test_audit_writes_are_two_units_per_applied_row_and_three_per_failed_row():
    e = estimate(replace(project_default(1_000_000), failed_rate=0.0))
    assert e["lines"]["DynamoDB audit writes (item + UserIdIndex [+ FailedItemsIndex])"] == round(
        2_000_000 * PRICES["dynamodb"]["onDemandPerWriteRequestUnit"], 6)
    f = estimate(replace(project_default(1_000_000), failed_rate=100.0))
    assert f["lines"]["DynamoDB audit writes (item + UserIdIndex [+ FailedItemsIndex])"] == round(
        3_000_000 * PRICES["dynamodb"]["onDemandPerWriteRequestUnit"], 6)


def test_audit_storage_scales_with_the_ttl():
    long = estimate(project_default(1_000_000))["lines"]["DynamoDB audit storage over the TTL"]
    short = estimate(replace(project_default(1_000_000), audit_ttl_days=30))["lines"]["DynamoDB audit storage over the TTL"]
    assert abs(long / short - 6) < 1e-3  # the lines are rounded to 6 decimals


def test_the_seed_configuration_costs_more_per_row_than_the_default():
    seed, default = estimate(seed_config(1_000_000)), estimate(project_default(1_000_000))
    assert seed["perMillionRows"] > default["perMillionRows"]
    assert seed["mapMinutes"] > default["mapMinutes"]
