"""samconfig.toml gives `sam deploy` (dev) and `sam deploy --config-env prod` everything they
need. SAM reads only the chosen environment: its ``global`` table and the command's table, the
command winning (samcli.lib.config.samconfig.SamConfig.get_all); nothing comes from [default]."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from local_runner.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
TEMPLATE = load_template(ROOT / "template.yaml")


def effective(env: str, command: str) -> dict[str, Any]:
    tables = CONFIG.get(env, {})
    return {**tables.get("global", {}).get("parameters", {}), **tables.get(command, {}).get("parameters", {})}


def overrides(params: dict[str, Any]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in str(params.get("parameter_overrides", "")).split())


@pytest.mark.parametrize(("env", "stage"), [("default", "dev"), ("prod", "prod")])
def test_each_environment_deploys_its_own_stack(env: str, stage: str) -> None:
    deploy = effective(env, "deploy")
    assert deploy["stack_name"] == f"csv-dmap-{stage}"
    assert deploy["region"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]  # the stack creates unnamed IAM roles
    assert deploy["resolve_s3"] is True
    assert overrides(deploy)["Stage"] == stage
    for name in overrides(deploy):  # every override names a parameter of the template
        assert name in TEMPLATE["Parameters"], name


def test_the_environments_do_not_share_a_stack() -> None:
    assert effective("default", "deploy")["stack_name"] != effective("prod", "deploy")["stack_name"]


def test_sync_works_for_dev_with_the_same_parameters_as_deploy() -> None:
    sync = effective("default", "sync")
    assert sync["stack_name"] == effective("default", "deploy")["stack_name"]
    assert overrides(sync) == overrides(effective("default", "deploy"))
    assert "CAPABILITY_IAM" in sync["capabilities"]
