"""Translate template.yaml the way SAM does, offline: ``python translate.py TEMPLATE PARAMS_JSON OUT``.

Runs in the SAM CLI's virtualenv (.venv-sam), where aws-sam-translator lives; the tests call it by
subprocess. What `sam deploy` sends CloudFormation is the packaged template (local CodeUri /
ContentUri uploaded to S3), which the AWS::Serverless-2016-10-31 transform then expands: we do
the same with placeholder S3 locations, and inline the state machine's definition (so cfn-lint
sees the ASL with its DefinitionSubstitutions).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# The managed policies the template names (SAM maps policy *names* to ARNs through IAM's list of
# AWS managed policies; offline we give it the few it may need).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaVPCAccessExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}


class OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader (which calls iam:ListPolicies)."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


def packaged(template: dict[str, Any], root: Path) -> dict[str, Any]:
    """What `sam package` would produce: code locations in S3, the ASL definition inlined."""
    for logical_id, res in template.get("Resources", {}).items():
        props = res.get("Properties") or {}
        kind = res.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = f"s3://packaged-artifacts/{logical_id}.zip"
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = f"s3://packaged-artifacts/{logical_id}.zip"
        elif kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((root / props.pop("DefinitionUri")).read_text())
    return template


def main(argv: list[str]) -> int:
    template_path, params_json, out = Path(argv[0]), argv[1], Path(argv[2])
    template = packaged(yaml_parse(template_path.read_text()), template_path.parent)
    translated = transform(template, json.loads(params_json), OfflinePolicyLoader())  # type: ignore[arg-type]
    out.write_text(json.dumps(translated, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
