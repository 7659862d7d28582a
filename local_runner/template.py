"""Reading template.yaml: CloudFormation tags, resources, and what the local
runner and the tests need from it (function handlers and environments,
DefinitionSubstitutions, the DynamoDB table definitions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
LOCAL_ENV = "CSV_DMAP_LOCAL"  # where the local runs keep their state (default: .local of the checkout)


def local_root() -> Path:
    """The local runs' state: the SQLite database, the audit table, S3's directories, .local/data,
    .local/out and the samples. ``CSV_DMAP_LOCAL`` moves all of it (tests, a second sandbox)."""
    import os

    return Path(os.environ.get(LOCAL_ENV) or ROOT / ".local")


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no stubs here
    """SafeLoader that turns ``!Ref X`` into ``{"Ref": X}`` and ``!Sub``, ``!GetAtt``,
    ``!If`` ... into their ``Fn::`` long forms."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path | str = TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        template: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)
        return template


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory_size: int | str
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def module_path(self) -> Path:
        module = self.handler.rsplit(".", 1)[0]
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def function_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def functions(template: dict[str, Any], root: Path = ROOT) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function with Globals merged in."""
    glob = (template.get("Globals") or {}).get("Function") or {}
    return {
        logical_id: _function(logical_id, res.get("Properties") or {}, glob, root)
        for logical_id, res in (template.get("Resources") or {}).items()
        if res.get("Type") == "AWS::Serverless::Function"
    }


def _variables(props: dict[str, Any]) -> dict[str, Any]:
    return dict(((props.get("Environment") or {}).get("Variables")) or {})


def _function(logical_id: str, props: dict[str, Any], glob: dict[str, Any], root: Path) -> FunctionSpec:
    def setting(name: str, default: Any) -> Any:
        return props.get(name) or glob.get(name) or default

    return FunctionSpec(
        logical_id=logical_id,
        code_uri=(root / props["CodeUri"]).resolve(),
        handler=setting("Handler", None),
        timeout=int(setting("Timeout", 3)),
        memory_size=setting("MemorySize", 128),
        environment={**_variables(glob), **_variables(props)},
    )


def table_definition(template: dict[str, Any], logical_id: str, table_name: str) -> dict[str, Any]:
    """``create_table`` arguments for an AWS::DynamoDB::Table of the template."""
    props = template["Resources"][logical_id]["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
            for g in props["GlobalSecondaryIndexes"]
        ]
    return kwargs


def ttl_attribute(template: dict[str, Any], logical_id: str) -> str | None:
    spec = template["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: p.get("Default") for name, p in (template.get("Parameters") or {}).items()}
