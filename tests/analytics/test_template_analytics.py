"""template.yaml's Glue/Athena block is what csv_dmap_cli.glue generates from the dataset
schemas and the query files, its partition templates match the keys the code writes,
and every named query runs in the local engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from csv_dmap.keys import rows_prefix
from csv_dmap.logic.daily_report import table_key
from csv_dmap.row_results import COLUMNS, part_key
from csv_dmap.summaries import TABLE_COLUMNS
from csv_dmap_cli.engine import connect, named_queries, run_query
from csv_dmap_cli.glue import outputs, resources, splice
from local_runner.template import load_template

ROOT = Path(__file__).parents[2]
TEXT = (ROOT / "template.yaml").read_text(encoding="utf-8")
TEMPLATE = load_template(ROOT / "template.yaml")


def test_the_template_holds_exactly_the_generated_block():
    assert splice(TEXT) == TEXT, "run: python -m csv_dmap_cli.glue --write"
    for logical_id, resource in resources().items():
        assert TEMPLATE["Resources"][logical_id] == resource, logical_id
    for name, output in outputs().items():
        assert TEMPLATE["Outputs"][name] == output


def test_glue_database_tables_workgroup_and_a_named_query_per_file():
    kinds = {}
    for resource in TEMPLATE["Resources"].values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    assert (kinds["AWS::Glue::Database"], kinds["AWS::Glue::Table"], kinds["AWS::Athena::WorkGroup"]) == (1, 3, 1)
    queries = {
        r["Properties"]["Name"]: r["Properties"]["QueryString"]
        for r in TEMPLATE["Resources"].values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }
    files = {q.name: q.sql for q in named_queries()}
    assert {name: sql.strip() for name, sql in queries.items()} == files
    assert {"monthly-increase", "error-patterns", "user-history", "failed-rows"} <= set(files)
    work = TEMPLATE["Resources"]["AnalyticsWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert work["EnforceWorkGroupConfiguration"] is True
    assert work["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert work["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}


def _location(table: str, day: str) -> str:
    params = TEMPLATE["Resources"][table]["Properties"]["TableInput"]["Parameters"]
    template = params["storage.location.template"]["Fn::Sub"]
    (column,) = re.findall(r"\$\{!(\w+)\}", template)
    assert params["projection.enabled"] == "true" and params[f"projection.{column}.type"] == "date"
    assert params[f"projection.{column}.format"] == "yyyy-MM-dd"
    return template.replace("${ResultsBucket}", "bucket").replace(f"${{!{column}}}", day).removeprefix("s3://bucket/")


@pytest.mark.parametrize(
    ("table", "written"),
    [
        ("UserUpdateResultsTable", part_key(rows_prefix("2026-11-23", "run-1"), 0)),
        ("RunSummariesTable", "summaries/date=2026-11-23/run-1.json"),
        ("DailyReportsTable", table_key("2026-11-23")),
    ],
)
def test_partition_templates_match_the_keys_the_code_writes(table, written):
    assert written.startswith(_location(table, "2026-11-23"))


def test_glue_columns_are_the_dataset_schemas():
    def columns(table: str) -> list[tuple[str, str]]:
        sd = TEMPLATE["Resources"][table]["Properties"]["TableInput"]["StorageDescriptor"]
        return [(c["Name"], c["Type"]) for c in sd["Columns"]]

    assert columns("UserUpdateResultsTable") == [(c, t) for c, t, _ in COLUMNS]
    assert columns("RunSummariesTable") == [(c, t) for c, t, _, _ in TABLE_COLUMNS]
    serde = TEMPLATE["Resources"]["RunSummariesTable"]["Properties"]["TableInput"]["StorageDescriptor"]["SerdeInfo"]
    from csv_dmap.models import RunSummary

    aliases = {f.alias or name for name, f in RunSummary.model_fields.items()}
    mapped = {v for k, v in serde["Parameters"].items() if k.startswith("mapping.")}
    assert mapped <= aliases  # every mapping names a key the summary really has


def test_every_named_query_parses_and_runs_in_the_local_engine(tmp_path):
    con = connect(tmp_path)  # no data: empty views with the tables' columns
    for query in named_queries():
        result = run_query(con, query.sql, ["x"] * query.parameters)
        assert result.rows == [] and result.columns, query.name
