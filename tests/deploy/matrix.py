"""The parameter sets the template is translated with, derived from the template itself.

The parameters that change the template's shape are the ones its Conditions read. Each of them is
an axis: an optional parameter (default "") is off or set to a sample value; a parameter with
AllowedValues takes each of its values. The matrix turns every axis on alone (one factor at a
time) and all together, so a parameter another change adds to the Conditions (for example a
database mode) is translated, linted and checked without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Sample values of optional parameters, by name (first match wins), shaped like the real thing
# so cfn-lint's patterns (subnet-..., sg-..., ARNs) hold.
SAMPLES: list[tuple[str, str]] = [
    (r"Subnet", "subnet-0a1b2c3d4e5f60718,subnet-0a1b2c3d4e5f60719"),
    (r"SecurityGroup", "sg-0a1b2c3d4e5f60718"),
    (r"VpcId$|^Vpc$", "vpc-0a1b2c3d4e5f60718"),
    (r"SecretArn", "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:csv-dmap-db-AbCdEf"),
    (r"ProxyEndpoint|Endpoint$|Host$", "csv-dmap.proxy-abcdefghijkl.ap-northeast-1.rds.amazonaws.com"),
    (r"Email", "ops@example.com"),
    # No password: a DatabaseUrl's password lands in the functions' environment (test stacks only).
    (r"Url$", "mysql+pymysql://csv_dmap@db.example.com:3306/csv_dmap"),
    (r"Cidr", "10.42.0.0/16"),
    (r"Arn$", "arn:aws:iam::123456789012:role/csv-dmap-sample"),
]


def sample_value(name: str, spec: dict[str, Any]) -> str:
    if spec.get("Type") == "Number":  # an optional number (0 = off): a value inside its bounds
        return str(min(int(spec.get("MaxValue", 8000)), max(int(spec.get("MinValue", 0)), 8000)))
    for pattern, value in SAMPLES:
        if re.search(pattern, name):
            return value
    if spec.get("Type", "").startswith("List<") or spec.get("Type") == "CommaDelimitedList":
        return "sample-a,sample-b"
    return "sample"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def condition_parameters(template: dict[str, Any]) -> list[str]:
    """The parameters the Conditions read, in template order."""
    read = set(_refs(template.get("Conditions") or {}))
    return [name for name in template.get("Parameters") or {} if name in read]


def _optional(spec: dict[str, Any]) -> bool:
    if spec.get("Type") == "Number":
        return str(spec.get("Default")) == "0" and not spec.get("AllowedValues")
    return spec.get("Default") == "" and not spec.get("AllowedValues")


def parameter_sets(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Configuration name -> parameter overrides (everything else keeps its default)."""
    params: dict[str, dict[str, Any]] = template.get("Parameters") or {}
    axes = condition_parameters(template)
    # Optional parameters no Condition reads only matter with another one (the security groups of
    # the subnets, the proxy of the secret): they ride along whenever something is switched on.
    passengers = {n: sample_value(n, s) for n, s in params.items() if _optional(s) and n not in axes}
    everything = dict(passengers)
    everything.update({n: sample_value(n, params[n]) for n in axes if _optional(params[n])})

    sets: dict[str, dict[str, str]] = {"defaults": {}, "everything": everything}
    for name in axes:
        spec = params[name]
        if _optional(spec):
            sets[f"only-{name}"] = {**passengers, name: sample_value(name, spec)}
        for value in spec.get("AllowedValues") or []:
            if str(value) == str(spec.get("Default")):
                continue
            sets[f"{name}={value}"] = {**passengers, name: str(value)}
            sets[f"everything+{name}={value}"] = {**everything, name: str(value)}
    return sets


# Pseudo parameters as CloudFormation gives them to a stack (a value in ``values`` wins).
PSEUDO = {
    "AWS::Region": "ap-northeast-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "csv-dmap-dev",
    "AWS::StackId": "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/csv-dmap-dev/"
    "51af3dc0-da77-11e4-872e-1234567db123",
}


def _cfn_value(name: str, template: dict[str, Any], values: dict[str, str]) -> Any:
    if name.startswith("AWS::"):
        return values.get(name, PSEUDO[name])
    spec = template["Parameters"][name]
    value = values.get(name, spec.get("Default", ""))
    if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
        return str(value).split(",") if value != "" else [""]
    return str(value)


def _sub(arg: Any, template: dict[str, Any], values: dict[str, str]) -> str:
    text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], evaluate(arg[1], template, values))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in extra:
            return str(extra[name])
        if "." in name or name in template.get("Resources", {}):
            raise ValueError(f"Fn::Sub of a resource ({name}) is not evaluated here")
        return str(_cfn_value(name, template, values))

    return re.sub(r"\$\{([^}]+)\}", replace, text)


def evaluate(node: Any, template: dict[str, Any], values: dict[str, str]) -> Any:
    """Evaluate a Condition expression or a name (Fn::Equals, Not, And, Or, If, Join, Select, Split,
    Sub, Ref of parameters and pseudo parameters; ``values`` may name pseudo parameters too)."""
    if isinstance(node, list):
        return [evaluate(v, template, values) for v in node]
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((key, arg),) = node.items()
    if key == "Ref":
        return _cfn_value(arg, template, values)
    if key in ("Condition", "Fn::Condition"):  # `!Condition X` loads as Fn::Condition
        return evaluate(template["Conditions"][arg], template, values)
    if key == "Fn::If":
        condition, yes, no = arg
        return evaluate(yes if evaluate(template["Conditions"][condition], template, values) else no, template, values)
    if key == "Fn::Sub":
        return _sub(arg, template, values)
    args = evaluate(arg, template, values)
    ops = {
        "Fn::Equals": lambda a: str(a[0]) == str(a[1]),
        "Fn::Not": lambda a: not a[0],
        "Fn::And": all,
        "Fn::Or": any,
        "Fn::Join": lambda a: a[0].join(str(x) for x in a[1]),
        "Fn::Select": lambda a: a[1][int(a[0])],
        "Fn::Split": lambda a: a[1].split(a[0]),
    }
    if key not in ops:
        raise ValueError(f"condition function {key} is not evaluated here")
    return ops[key](args)


def conditions(template: dict[str, Any], values: dict[str, str]) -> dict[str, bool]:
    return {name: bool(evaluate(expr, template, values)) for name, expr in (template.get("Conditions") or {}).items()}
