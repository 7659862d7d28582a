"""The cost model's arithmetic: what each setting changes, pinned on hand-computed cases."""

import json
from dataclasses import replace

import pytest

from bench.cost import (
    ASSUMPTIONS,
    PRICES,
    STANDARD,
    STANDARD_IA,
    audit_write_units,
    estimate,
    ia_break_even_days,
    project_default,
    specified_config,
)

WRU = PRICES["dynamodb"]["onDemandPerWriteRequestUnit"]
WRITES = "DynamoDB audit writes"
STORAGE = "DynamoDB audit storage over the TTL"
PITR = "DynamoDB audit point-in-time recovery over the TTL"


def on_standard(rows):
    """The default configuration priced as a Standard-class table (the template's default is Standard-IA)."""
    return replace(project_default(rows), table_class=STANDARD)


def clean(config, **changes):
    """No failed and no superseded rows unless a case says so."""
    return replace(config, failed_rate=0.0, superseded_rate=0.0, **changes)


def test_defaults_come_from_the_template_and_the_definition():
    config = project_default(1_000_000)
    assert (config.batch, config.children, config.concurrency, config.audit_ttl_days) == (500, "EXPRESS", 10, 180)
    assert config.audit_design == "spread"


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


@pytest.mark.parametrize(
    ("design", "failed", "superseded", "units"),
    [
        # 1,000,000 rows; every item under 1 KB (330 / 480 bytes): one unit per entry
        ("spread", 0.0, 0.0, 1_000_000),  # one item per row, nothing else indexed
        ("spread", 100.0, 0.0, 2_000_000),  # a failed row: its item + its failed-rows index entry
        ("spread", 2.0, 1.0, 970_000 + 2 * 20_000 + 10_000),  # superseded rows: 1 unit
        ("execution-key", 0.0, 0.0, 2_000_000),  # the item + its UserIdIndex entry
        ("execution-key", 100.0, 0.0, 3_000_000),  # + FailedItemsIndex
    ],
)
def test_audit_write_units_per_row_by_design(design, failed, superseded, units):
    config = replace(
        project_default(1_000_000),
        audit_design=design,
        failed_rate=failed,
        superseded_rate=superseded,
        table_class=STANDARD,
    )  # Standard's price per write unit (Standard-IA: test below)
    assert audit_write_units(config) == pytest.approx(units)
    assert estimate(config)["lines"][WRITES] == round(units * WRU, 6)


def test_the_spread_design_halves_the_write_cost_of_an_applied_row():
    standard = on_standard(1_000_000)
    spread = estimate(clean(standard))["lines"][WRITES]
    keyed = estimate(clean(standard, audit_design="execution-key"))["lines"][WRITES]
    assert spread == pytest.approx(0.625, abs=1e-6) and keyed == pytest.approx(1.25, abs=1e-6)


def test_standard_ia_prices_writes_25_percent_up_and_storage_60_percent_down():
    standard = estimate(clean(on_standard(1_000_000)))["lines"]
    ia = estimate(clean(on_standard(1_000_000), table_class=STANDARD_IA))["lines"]
    assert ia[WRITES] == pytest.approx(standard[WRITES] * 1.25, rel=1e-5)
    assert ia[STORAGE] == pytest.approx(standard[STORAGE] * 0.4, rel=1e-5)
    assert ia[PITR] == standard[PITR]  # continuous backups are priced by size, whatever the class


def test_storage_and_backups_by_hand():
    # 1,000,000 applied items of 330 bytes + 100 bytes of per-item overhead, 180 days = 6 months
    gb = 1_000_000 * 430 / 1024**3
    lines = estimate(clean(on_standard(1_000_000)))["lines"]
    assert lines[STORAGE] == round(gb * 0.25 * 6, 6)
    assert lines[PITR] == round(gb * 0.20 * 6, 6)
    keyed = estimate(clean(on_standard(1_000_000), audit_design="execution-key"))["lines"]
    assert keyed[STORAGE] == round(2 * gb * 0.25 * 6, 6)  # UserIdIndex (ALL) stores every item again


def test_standard_ia_breaks_even_at_the_hand_computed_ttl():
    # extra writes: 1e6 x ($0.78125 - $0.625) per million = $0.15625;
    # storage saved per day: 0.40047 GB x ($0.25 - $0.10) / 30 -> 78.0 days
    gb = 1_000_000 * 430 / 1024**3
    expected = 0.15625 / (gb * 0.15 / 30)
    assert ia_break_even_days(clean(project_default(1_000_000))) == pytest.approx(expected, rel=1e-6)
    assert 77 < expected < 79


def test_audit_storage_scales_with_the_ttl():
    long = estimate(project_default(1_000_000))["lines"][STORAGE]
    short = estimate(replace(project_default(1_000_000), audit_ttl_days=30))["lines"][STORAGE]
    assert abs(long / short - 6) < 1e-3  # the lines are rounded to 6 decimals


def test_the_specified_configuration_costs_more_per_row_than_the_default():
    specified, default = estimate(specified_config(1_000_000)), estimate(project_default(1_000_000))
    assert specified["perMillionRows"] > default["perMillionRows"]
    assert specified["mapMinutes"] > default["mapMinutes"]


def test_every_assumption_and_price_names_its_source():
    for name, entry in ASSUMPTIONS["assumptions"].items():
        assert set(entry) >= {"value", "source"} and len(entry["source"]) > 20, name
    assert PRICES["asOf"] and all("http" in s for s in PRICES["_sources"])
    json.dumps(ASSUMPTIONS)  # plain data
