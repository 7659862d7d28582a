"""The created database in template.yaml: one hop per security group on 3306, TLS to the proxy,
the managed secret everywhere, the same database settings for the worker and the migrator, and
nothing of it in existing mode. (Translation, cfn-lint and checkov of every mode: tests/deploy.)"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from local_runner.environment import LocalEnvironment
from local_runner.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RES = TEMPLATE["Resources"]
DB_CLIENTS = ("WorkerFunction", "SchemaMigratorFunction")
DB_VARIABLES = ("DATABASE_URL", "DB_SECRET_ARN", "DB_HOST", "DB_NAME", "DB_TLS", "DB_IAM_AUTH", "DB_USER")
MANAGED_SECRET = {"Fn::GetAtt": ["DbCluster", "MasterUserSecret.SecretArn"]}


def group_id(name: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, "GroupId"]}


def rules(group: str, direction: str) -> list[dict[str, Any]]:
    """Inline and stand-alone rules of one direction ("Ingress"/"Egress") of a security group."""
    inline = RES[group]["Properties"].get(f"SecurityGroup{direction}", [])
    separate = [
        r["Properties"]
        for r in RES.values()
        if r["Type"] == f"AWS::EC2::SecurityGroup{direction}" and r["Properties"]["GroupId"] == group_id(group)
    ]
    return [*inline, *separate]


def test_a_fresh_deploy_creates_the_database() -> None:
    mode = TEMPLATE["Parameters"]["DatabaseMode"]
    assert mode["Default"] == "create" and set(mode["AllowedValues"]) == {"create", "existing"}


def test_security_groups_allow_one_hop_each_on_3306_only() -> None:
    mysql = {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306}

    def hops(group: str, direction: str, key: str) -> list[tuple[Any, ...]]:
        return [(r["IpProtocol"], r["FromPort"], r["ToPort"], r.get(key)) for r in rules(group, direction)]

    assert hops("DbClusterSecurityGroup", "Ingress", "SourceSecurityGroupId") == [
        (*mysql.values(), group_id("DbProxySecurityGroup"))
    ]
    assert hops("DbProxySecurityGroup", "Ingress", "SourceSecurityGroupId") == [
        (*mysql.values(), group_id("DbClientSecurityGroup"))
    ]
    assert hops("DbProxySecurityGroup", "Egress", "DestinationSecurityGroupId") == [
        (*mysql.values(), group_id("DbClusterSecurityGroup"))
    ]
    client_out = hops("DbClientSecurityGroup", "Egress", "DestinationSecurityGroupId")
    assert (*mysql.values(), group_id("DbProxySecurityGroup")) in client_out
    assert {(p, f, t) for p, f, t, _ in client_out} == {("tcp", 3306, 3306), ("tcp", 443, 443)}
    # The cluster and the endpoints send nothing out (the default allow-all egress is replaced).
    for group in ("DbClusterSecurityGroup", "EndpointSecurityGroup"):
        assert [r["CidrIp"] for r in rules(group, "Egress")] == ["127.0.0.1/32"]


def test_the_proxy_requires_tls_and_logs_in_with_the_managed_secret() -> None:
    proxy = RES["DbProxy"]["Properties"]
    assert proxy["RequireTLS"] is True and proxy["EngineFamily"] == "MYSQL"
    [auth] = proxy["Auth"]
    assert auth["AuthScheme"] == "SECRETS" and auth["SecretArn"] == MANAGED_SECRET
    assert auth["IAMAuth"] == {"Fn::If": ["UseDbIamAuth", "REQUIRED", "DISABLED"]}
    role = RES["DbProxyRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert role == [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": MANAGED_SECRET}]
    target = RES["DbProxyTargetGroup"]["Properties"]
    assert target["DBClusterIdentifiers"] == [{"Ref": "DbCluster"}] and target["DBProxyName"] == {"Ref": "DbProxy"}


def test_the_cluster_is_serverless_v2_mysql_with_a_managed_password() -> None:
    cluster = RES["DbCluster"]
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-mysql" and props["ManageMasterUserPassword"] is True
    assert props["MasterUsername"] == {"Ref": "DbUser"}  # the user IAM authentication names too
    assert "MasterUserPassword" not in props
    assert props["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": {"Ref": "DbMinCapacity"},
        "MaxCapacity": {"Ref": "DbMaxCapacity"},
    }
    assert props["StorageEncrypted"] is True and cluster["DeletionPolicy"] == "Snapshot"
    assert RES["DbWriter"]["Properties"]["DBInstanceClass"] == "db.serverless"
    # A cluster behind RDS Proxy does not auto-pause: 0 ACUs would not save anything.
    assert min(float(v) for v in TEMPLATE["Parameters"]["DbMinCapacity"]["AllowedValues"]) >= 0.5


def _uses(node: Any, function: str) -> bool:
    if isinstance(node, dict):
        return function in node or any(_uses(v, function) for v in node.values())
    if isinstance(node, list):
        return any(_uses(v, function) for v in node)
    return False


def test_the_subnets_are_in_the_zones_the_operator_names() -> None:
    # Fn::GetAZs lists zones in an order that "isn't guaranteed and can change when new Availability
    # Zones are added" (a later deploy would move, so replace, the subnets) and can list a zone where
    # the account cannot create subnets: the operator names the zones instead.
    assert not _uses(TEMPLATE, "Fn::GetAZs")
    zones = TEMPLATE["Parameters"]["AvailabilityZones"]
    assert zones["Type"] == "List<AWS::EC2::AvailabilityZone::Name>"  # CloudFormation checks each name exists
    assert "Default" not in zones  # zone names are per account: no name is right for everyone
    picked = [RES[subnet]["Properties"]["AvailabilityZone"] for subnet in ("PrivateSubnetA", "PrivateSubnetB")]
    assert picked == [
        {"Fn::Select": [0, {"Ref": "AvailabilityZones"}]},
        {"Fn::Select": [1, {"Ref": "AvailabilityZones"}]},
    ]
    for subnet in ("PrivateSubnetA", "PrivateSubnetB"):
        assert RES[subnet]["Condition"] == "CreateNetwork"  # used only when the stack builds its VPC


def test_the_network_has_the_endpoints_the_functions_call() -> None:
    endpoints = {
        r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]: r["Properties"]
        for r in RES.values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
    }
    assert {k: v["VpcEndpointType"] for k, v in endpoints.items()} == {
        "dynamodb": "Gateway",
        "s3": "Gateway",
        "secretsmanager": "Interface",
    }
    for gateway in ("dynamodb", "s3"):
        assert endpoints[gateway]["RouteTableIds"] == [{"Ref": "PrivateRouteTable"}]
    assert endpoints["secretsmanager"]["PrivateDnsEnabled"] is True
    assert endpoints["secretsmanager"]["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    assert not any(r["Type"] in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway") for r in RES.values())


def test_worker_and_migrator_reach_the_database_the_same_way() -> None:
    worker, migrator = (RES[name]["Properties"] for name in DB_CLIENTS)
    for var in DB_VARIABLES:
        assert worker["Environment"]["Variables"][var] == migrator["Environment"]["Variables"][var], var
    assert worker["VpcConfig"] == migrator["VpcConfig"]
    secret_and_iam = [p for p in worker["Policies"] if "Fn::If" in p]
    assert all(p in migrator["Policies"] for p in secret_and_iam)


def test_the_schema_resource_reruns_on_new_code_and_waits_for_the_proxy() -> None:
    schema = RES["DatabaseSchema"]
    assert schema["Type"] == "Custom::DatabaseSchema" and "Condition" not in schema  # both modes
    props = schema["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": ["SchemaMigratorFunction", "Arn"]}
    assert props["SharedLayer"] == {"Ref": "SharedLayer"}  # a new layer version is an Update
    assert props["DatabaseTargets"] == {"Fn::If": ["CreateDatabase", {"Ref": "DbProxyTargetGroup"}, ""]}
    assert {"Ref": "S3GatewayEndpoint"} in props["Endpoints"]["Fn::If"][1]  # its answer goes through S3
    # ... and the stand-alone security-group rules of the path functions -> proxy -> cluster exist.
    separate = {
        lid
        for lid, r in RES.items()
        if r["Type"].startswith("AWS::EC2::SecurityGroup")
        and r["Type"] != "AWS::EC2::SecurityGroup"
        and r.get("Condition") == "CreateDatabase"
    }
    assert {ref["Ref"] for ref in props["DatabasePath"]["Fn::If"][1]} == separate
    assert 0 < props["ServiceTimeout"] <= 3600


def test_existing_mode_creates_none_of_it() -> None:
    created = {"CreateDatabase", "CreateNetwork"}
    for name in (
        "Vpc",
        "DbCluster",
        "DbWriter",
        "DbProxy",
        "DbProxyTargetGroup",
        "DbProxyRole",
        "SecretsManagerEndpoint",
        "DbClientSecurityGroup",
        "DbSubnetGroup",
    ):
        assert RES[name].get("Condition") in created, name


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # the template's default mode (test_a_fresh_deploy_creates_the_database), named: the local harness
        # runs DatabaseMode=existing unless told otherwise
        (
            {"DatabaseMode": "create"},
            {
                "DB_TLS": "true",
                "DB_HOST": {"Fn::GetAtt": ["DbProxy", "Endpoint"]},
                "DB_SECRET_ARN": MANAGED_SECRET,
                "DB_IAM_AUTH": "false",
                "DB_USER": "csv_dmap",
            },
        ),
        (
            {
                "DatabaseMode": "existing",
                "DbProxyEndpoint": "p.example",
                "DbSecretArn": "arn:s",
                "DbIamAuth": "true",
                "DbUser": "app",
            },
            {
                "DB_TLS": "true",
                "DB_HOST": "p.example",
                "DB_SECRET_ARN": "arn:s",
                "DB_IAM_AUTH": "true",
                "DB_USER": "app",
            },
        ),
        (
            {"DatabaseMode": "existing", "DatabaseUrl": "mysql+pymysql://u:p@h/d"},
            {"DB_TLS": "false", "DB_HOST": "", "DB_SECRET_ARN": "", "DB_IAM_AUTH": "false"},
        ),
    ],
)
def test_the_functions_get_the_mode_s_settings(parameters: dict[str, str], expected: dict[str, Any]) -> None:
    env = LocalEnvironment(parameters=parameters, database_url="sqlite://")
    want = {k: str(env.resolve(v)) for k, v in expected.items()}  # created resources: as the runner names them
    for name in DB_CLIENTS:
        got = env.function_environment(name)
        assert {k: got[k] for k in want} == want, name


# ------------------------------------------------------------------ Rules: refuse a deploy that cannot work


# What a rule's condition and assertions may use besides Ref: CloudFormation's rule functions
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html).
# They compare strings and lists of strings; none compares numbers, none measures a string.
RULE_FUNCTIONS = {
    "Fn::And": all,
    "Fn::Or": any,
    "Fn::Not": lambda a: not a[0],
    "Fn::Equals": lambda a: a[0] == a[1],
    "Fn::Contains": lambda a: a[1] in a[0],
    "Fn::EachMemberEquals": lambda a: all(member == a[1] for member in a[0]),
    "Fn::EachMemberIn": lambda a: all(member in a[1] for member in a[0]),
}


def _value(node: Any, values: dict[str, str]) -> Any:
    """A rule expression over parameter values, as CloudFormation evaluates it."""
    if isinstance(node, list):
        return [_value(v, values) for v in node]
    if not isinstance(node, dict):
        return node
    ((key, arg),) = node.items()
    if key == "Ref":
        spec = TEMPLATE["Parameters"][arg]
        raw = values.get(arg, spec.get("Default", ""))
        return str(raw).split(",") if spec["Type"] == "CommaDelimitedList" else str(raw)
    return RULE_FUNCTIONS[key](_value(arg, values))


def _functions(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {k for k in node if k.startswith("Fn::")} | {f for v in node.values() for f in _functions(v)}
    if isinstance(node, list):
        return {f for v in node for f in _functions(v)}
    return set()


def test_rules_use_only_the_rule_functions() -> None:
    # RuleFunctions lists the ones this module evaluates; Fn::RefAll, Fn::ValueOf and
    # Fn::ValueOfAll (AWS-specific parameters' attributes) are the others AWS offers.
    used = _functions(TEMPLATE["Rules"])
    assert used and used <= set(RULE_FUNCTIONS) | {"Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll"}, used


def refused(values: dict[str, str]) -> list[str]:
    """Names of the rules whose assertions fail for these parameter values."""
    out = []
    for name, rule in TEMPLATE["Rules"].items():
        if "RuleCondition" in rule and not _value(rule["RuleCondition"], values):
            continue
        if not all(_value(a["Assert"], values) for a in rule["Assertions"]):
            out.append(name)
    return out


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, []),  # the defaults deploy
        ({"DatabaseMode": "existing"}, ["ExistingDatabaseIsNamed"]),
        ({"DatabaseMode": "existing", "DbSecretArn": "arn:s"}, []),
        ({"DatabaseMode": "existing", "DatabaseUrl": "mysql+pymysql://u:p@h/d"}, []),
        ({"VpcSubnetIds": "subnet-a,subnet-b"}, ["GivenSubnetsNeedTheirVpc"]),
        ({"VpcSubnetIds": "subnet-a,subnet-b", "VpcId": "vpc-1"}, []),
        ({"DatabaseMode": "existing", "DbSecretArn": "arn:s", "DbIamAuth": "true"}, ["ExistingIamAuthIsNamed"]),
        (
            {"DatabaseMode": "existing", "DbSecretArn": "arn:s", "DbIamAuth": "true", "DbProxyResourceId": "prx-1"},
            ["ExistingIamAuthIsNamed"],
        ),  # the token is for a proxy: the secret's host (the cluster) cannot take it
        (
            {
                "DatabaseMode": "existing",
                "DbSecretArn": "arn:s",
                "DbIamAuth": "true",
                "DbProxyResourceId": "prx-1",
                "DbProxyEndpoint": "p.proxy-1.ap-northeast-1.rds.amazonaws.com",
            },
            [],
        ),
        ({"DbIamAuth": "true"}, []),  # create mode: the stack knows its own proxy
        (
            {"Stage": "prod", "DatabaseMode": "existing", "DatabaseUrl": "mysql+pymysql://u:p@h/d"},
            ["ProductionTakesNoDatabaseUrl"],
        ),  # its password would be readable in the functions' environment
        ({"Stage": "prod", "DatabaseMode": "existing", "DbSecretArn": "arn:s"}, []),
    ],
)
def test_rules_refuse_only_the_configurations_that_cannot_reach_a_database(
    values: dict[str, str], expected: list[str]
) -> None:
    assert refused(values) == expected


# ------------------------------------------------------------------ the capacity range

MIN_LADDER = [str(v) for v in TEMPLATE["Parameters"]["DbMinCapacity"]["AllowedValues"]]
MAX_LADDER = [str(v) for v in TEMPLATE["Parameters"]["DbMaxCapacity"]["AllowedValues"]]


def test_the_capacities_are_one_ladder_from_half_an_acu_to_256() -> None:
    # Aurora Serverless v2 takes 0.5 to 256 ACUs in steps of 0.5; the maximum is at least 1.
    steps = [float(v) for v in MIN_LADDER]
    assert steps == sorted(steps) and steps[0] == 0.5 and steps[-1] == 256
    assert all(v * 2 == int(v * 2) for v in steps)
    assert all(b <= 1.5 * a for a, b in itertools.pairwise(steps[1:]))  # from 1 ACU on, no big gap
    assert [v for v in MIN_LADDER if float(v) >= 1] == MAX_LADDER
    params = TEMPLATE["Parameters"]
    assert (
        str(params["DbMinCapacity"]["Default"]) in MIN_LADDER and str(params["DbMaxCapacity"]["Default"]) in MAX_LADDER
    )


@pytest.mark.parametrize("maximum", MAX_LADDER)
def test_the_capacity_rule_refuses_exactly_a_minimum_above_the_maximum(maximum: str) -> None:
    for minimum in MIN_LADDER:
        refusal = "DbCapacityRangeIsOrdered" in refused({"DbMinCapacity": minimum, "DbMaxCapacity": maximum})
        assert refusal == (float(minimum) > float(maximum)), (minimum, maximum)
        existing = {
            "DatabaseMode": "existing",
            "DbSecretArn": "arn:s",
            "DbMinCapacity": minimum,
            "DbMaxCapacity": maximum,
        }
        assert refused(existing) == []  # the capacities mean nothing without a created cluster


# ------------------------------------------------------------------ TLS: RDS Proxy only


@pytest.mark.parametrize(
    ("endpoint", "accepted"),
    [
        ("", True),  # no proxy: the secret's host, without TLS
        ("csv-dmap.proxy-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", True),
        ("my-proxy-2.proxy-c1a2b3.cn-north-1.rds.amazonaws.com.cn", True),
        ("my-db.cluster-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", False),  # the cluster's writer
        ("my-db.cluster-ro-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", False),  # its readers
        ("my-db-instance-1.abcdefghijkl.ap-northeast-1.rds.amazonaws.com", False),  # an instance
        ("reader.endpoint.proxy-abcdefghijkl.ap-northeast-1.rds.amazonaws.com", False),  # a proxy's added endpoint
        ("db.example.com", False),
    ],
)
def test_db_proxy_endpoint_takes_an_rds_proxy_only(endpoint: str, accepted: bool) -> None:
    # TLS is verified with the system trust store: it holds the Amazon roots of a proxy's ACM
    # certificate, not the RDS CA of a cluster's; CloudFormation refuses any other host up front.
    spec = TEMPLATE["Parameters"]["DbProxyEndpoint"]
    assert bool(re.fullmatch(spec["AllowedPattern"], endpoint)) is accepted
    assert "RDS Proxy only" in spec["Description"] and "cluster" in spec["ConstraintDescription"]
