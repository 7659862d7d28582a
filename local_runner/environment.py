"""The local stand-ins of the stack: moto for AWS, SQLite (or any SQLAlchemy
URL) for Aurora. Resources are created from template.yaml itself, so the
local table has the same keys and GSIs as the deployed one, and functions
get the environment the template gives them, with references resolved to the
local names.

Two configurations of AWS: ``aws="moto"`` (every service in moto, in memory: tests, ``exec``)
and ``aws="disk"`` (``make run``: S3 and DynamoDB served by processes that keep their data on
disk, ``local_aws``; the rest in moto), whose memory does not grow with the rows."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, ClassVar, Self

from . import ACCOUNT, REGION, layer, local_aws
from .containers import FunctionContainers
from .phases import Phases
from .template import (
    ROOT,
    TEMPLATE,
    functions,
    load_template,
    local_root,
    parameter_defaults,
    table_definition,
    ttl_attribute,
)

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
_LOCAL_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    "POWERTOOLS_METRICS_DISABLED": "false",
    "POWERTOOLS_DEV": "false",
}


class UnsupportedTemplateValue(ValueError):
    pass


class LocalEnvironment:
    """Start with ``with LocalEnvironment(...) as env:``; moto runs in-process."""

    def __init__(
        self,
        template_path: Path | str | None = None,
        stack_name: str = "csv-dmap-local",
        parameters: dict[str, Any] | None = None,
        database_url: str | None = None,
        use_moto: bool = True,
        quiet: bool = False,
        moto_server: bool = False,
        create_schema: bool | None = None,
        aws: str = "moto",
    ):
        # template_path=None: the project's template; "" : none (moto only, no database).
        self.template_path = (
            ROOT / "template.yaml" if template_path is None else Path(template_path) if template_path else None
        )
        self.template = load_template(self.template_path) if self.template_path else {"Resources": {}, "Parameters": {}}
        self.stack_name = stack_name
        # Locally the database is always an existing one (SQLite or DATABASE_URL): the template's
        # created-database mode (an Aurora cluster behind a TLS proxy) has no local stand-in.
        local = {"DatabaseMode": "existing"} if "DatabaseMode" in (self.template.get("Parameters") or {}) else {}
        self.parameters = {**parameter_defaults(self.template), **local, **(parameters or {})}
        self.database_url = (
            database_url or os.environ.get("DATABASE_URL") or f"sqlite:///{local_root() / 'csv_dmap.sqlite'}"
        )
        self.parameters["DatabaseUrl"] = self.database_url
        self.use_moto = use_moto
        self.quiet = quiet  # functions log warnings only and emit no EMF metrics (make run)
        # moto in a process of its own (the AWS services' memory is not the runner's; benchmarks)
        self.moto_server = moto_server
        self._server: subprocess.Popen[bytes] | None = None
        if aws not in ("moto", "disk"):
            raise ValueError(f"aws must be 'moto' or 'disk', not {aws!r}")
        self.aws = aws
        self._s3: local_aws.RunS3 | None = None
        self._dynamodb: local_aws.SharedDynamoDB | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.functions = functions(self.template, self.template_path.parent) if self.template_path else {}
        # The project's tables only for the project's template (never for another template given to exec).
        is_project = self.template_path is not None and self.template_path.resolve() == TEMPLATE.resolve()
        self.create_schema = is_project if create_schema is None else create_schema
        self.containers: FunctionContainers | None = None
        self.phases = Phases()  # what the run is doing (``make run`` shows it)

    # ------------------------------------------------------------ names
    # Resource kind -> (physical name, Arn) of its local stand-in.
    _FORMATS: ClassVar[dict[str, tuple[str, str]]] = {
        "AWS::S3::Bucket": ("{stack}-{base}", "arn:aws:s3:::{name}"),
        "AWS::Serverless::Function": ("{stack}-{logical}", "arn:aws:lambda:{region}:{account}:function:{name}"),
        "AWS::Lambda::Function": ("{stack}-{logical}", "arn:aws:lambda:{region}:{account}:function:{name}"),
        "AWS::DynamoDB::Table": ("{stack}-{base}", "arn:aws:dynamodb:{region}:{account}:table/{name}"),
        "AWS::SNS::Topic": ("arn:aws:sns:{region}:{account}:{stack}-{base}", "{name}"),
        "AWS::Serverless::StateMachine": ("arn:aws:states:{region}:{account}:stateMachine:{stack}", "{name}"),
    }

    def _format(self, logical_id: str, which: int, **extra: str) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        fmt = self._FORMATS.get(kind, ("{stack}-{base}", "{name}"))[which]
        base = re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()
        return fmt.format(stack=self.stack_name, base=base, logical=logical_id, region=REGION, account=ACCOUNT, **extra)

    def physical_name(self, logical_id: str) -> str:
        return self._format(logical_id, 0)

    def attribute(self, logical_id: str, attr: str) -> str:
        name = self.physical_name(logical_id)
        if attr == "Arn":
            return self._format(logical_id, 1, name=name)
        if attr == "TopicName":
            return name.rsplit(":", 1)[1]
        return name

    def function_for_arn(self, arn_or_name: str) -> str | None:
        """Logical id of the function a resolved ARN or name denotes."""
        for logical_id in self.functions:
            if arn_or_name in (self.physical_name(logical_id), self.attribute(logical_id, "Arn")):
                return logical_id
        return None

    # ------------------------------------------------------------ intrinsic functions
    def _condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        function = self._FUNCTIONS.get(key)
        if function is not None:
            return function(self, arg)
        if key.startswith("Fn::"):
            raise UnsupportedTemplateValue(f"the local runner does not evaluate {key}")
        return {key: self.resolve(arg)}

    def _get_att(self, arg: Any) -> Any:
        logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
        return self.attribute(logical, attr)

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(m: re.Match[str]) -> str:
            token = m.group(1)
            if token in extra:
                return str(extra[token])
            if "." in token:
                return str(self.attribute(*token.split(".", 1)))
            return str(self._ref(token))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _join(self, arg: Any) -> str:
        sep, items = arg
        return str(sep).join(str(x) for x in self.resolve(items))

    def _if(self, arg: Any) -> Any:
        cond, yes, no = arg
        return self.resolve(yes if self._condition(cond) else no)

    def _equals(self, arg: Any) -> bool:
        a, b = self.resolve(arg)
        return bool(a == b)

    _FUNCTIONS: ClassVar[dict[str, Any]] = {
        "Ref": lambda self, arg: self._ref(arg),
        "Fn::GetAtt": _get_att,
        "Fn::Sub": _sub,
        "Fn::Join": _join,
        "Fn::If": _if,
        "Fn::Equals": _equals,
        "Fn::Not": lambda self, arg: not self.resolve(arg[0]),
        "Fn::And": lambda self, arg: all(self.resolve(a) for a in arg),
        "Fn::Or": lambda self, arg: any(self.resolve(a) for a in arg),
        "Fn::Select": lambda self, arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
        "Fn::Split": lambda self, arg: str(self.resolve(arg[1])).split(str(arg[0])),
        "Condition": lambda self, arg: self._condition(arg),
        "Fn::Condition": lambda self, arg: self._condition(arg),  # `!Condition X` in YAML
    }

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            value = self.parameters[name]
            kind = self.template["Parameters"][name].get("Type")
            if kind == "CommaDelimitedList" and isinstance(value, str):
                return [v for v in value.split(",")] if value else [""]
            return "" if value is None else value
        if name in self.template["Resources"]:
            return self.physical_name(name)
        raise UnsupportedTemplateValue(f"unknown reference {name!r}")

    def function_environment(self, logical_id: str) -> dict[str, str]:
        env = {}
        for key, value in self.functions[logical_id].environment.items():
            resolved = self.resolve(value)
            env[key] = "" if resolved is None else str(resolved)
        return env

    def all_functions_environment(self) -> dict[str, str]:
        """The harness's view between invocations: every function's variables (an
        invocation sees only its own function's, see ``containers``)."""
        env: dict[str, str] = {}
        for logical_id in self.functions:
            env.update(self.function_environment(logical_id))
        return env

    def definition_substitutions(self, state_machine_id: str) -> dict[str, str]:
        props = self.template["Resources"][state_machine_id]["Properties"]
        return {k: str(self.resolve(v)) for k, v in (props.get("DefinitionSubstitutions") or {}).items()}

    def state_machine_ids(self) -> list[str]:
        return [k for k, r in self.template["Resources"].items() if r["Type"] == "AWS::Serverless::StateMachine"]

    # ------------------------------------------------------------ lifecycle
    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def __enter__(self) -> Self:
        try:
            return self._enter()
        except BaseException:
            self.__exit__(None, None, None)  # a half-started environment must not leave moto or os.environ behind
            raise

    def _enter(self) -> Self:
        if self.functions:
            layer.ensure_layer_on_path()
        self._set_env(_FAKE_CREDENTIALS if self.use_moto else {})
        self._set_env(_LOCAL_ENV)
        if self.aws == "disk":
            self._start_disk_stand_ins()
        if self.use_moto and self.moto_server:
            self._start_moto_server()
        elif self.use_moto:
            from moto import mock_aws

            # with S3 and DynamoDB on their own servers, moto must leave the credentials alone
            config: Any = {"core": {"mock_credentials": False}} if self.aws == "disk" else None
            self._mock = mock_aws(config=config) if config else mock_aws()
            self._mock.start()
        harness = self.all_functions_environment()
        self._set_env(harness)
        if self.quiet:
            self._set_env({"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
        self.containers = FunctionContainers(
            {logical_id: self.function_environment(logical_id) for logical_id in self.functions},
            harness,
            self._reset_caches if self.functions else (lambda: None),
        )
        self.containers.reset()
        self.provision()
        if self.create_schema:
            self.prepare_database()
        return self

    def _start_moto_server(self) -> None:
        import socket
        import sys
        import time
        import urllib.request

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self._server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        self._set_env({"AWS_ENDPOINT_URL": endpoint})

    def _start_disk_stand_ins(self) -> None:
        """S3 (s3rver, this run's own) and DynamoDB (the checkout's dynalite) on disk."""
        self._s3 = local_aws.RunS3()
        s3 = self._s3.start()
        self._dynamodb = local_aws.SharedDynamoDB()
        dynamodb = self._dynamodb.attach()
        self._set_env(
            {
                **local_aws.CREDENTIALS,
                "AWS_ENDPOINT_URL_S3": s3,
                "AWS_ENDPOINT_URL_DYNAMODB": dynamodb,
                # s3rver knows no aws-chunked uploads with trailing checksums (botocore's default)
                "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
            }
        )

    @property
    def moto_server_pid(self) -> int | None:
        return self._server.pid if self._server else None

    @property
    def audit_persists(self) -> bool:
        """Does the audit table outlive the run (``aws="disk"``), so that nothing needs saving?"""
        return self._dynamodb is not None

    def stand_in_pids(self) -> dict[str, int]:
        """The processes that serve AWS besides the runner, by name."""
        pids: dict[str, int] = {}
        if self._server is not None:
            pids["moto-server"] = self._server.pid
        if self._s3 is not None and self._s3.proc is not None:
            pids["s3rver"] = self._s3.proc.pid
        if self._dynamodb is not None and self._dynamodb.server is not None:
            pids["dynalite"] = self._dynamodb.server.pid
        return pids

    def stand_in_rss_mib(self) -> dict[str, float | None]:
        """Peak resident memory of each process that serves AWS besides the runner (MiB)."""
        return {name: local_aws.peak_rss_mib(pid) for name, pid in self.stand_in_pids().items()}

    def stand_in_cpu_seconds(self) -> dict[str, float | None]:
        """CPU time each process that serves AWS besides the runner has used so far (seconds)."""
        return {name: local_aws.cpu_seconds(pid) for name, pid in self.stand_in_pids().items()}

    def __exit__(self, *exc: object) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=30)
            self._server = None
        if self._s3 is not None:
            self._s3.stop()
            self._s3 = None
        if self._dynamodb is not None:
            self._dynamodb.detach()
            self._dynamodb = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self.containers is not None:
            self.containers.reset()
        self.containers = None

    @staticmethod
    def _reset_caches() -> None:
        """Per-container singletons of the layer were built for another environment."""
        layer.reset()

    def client(self, service: str, config: Any = None) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION, config=config)

    def provision(self) -> None:
        for logical_id, res in self.template["Resources"].items():
            kind = res["Type"]
            if kind == "AWS::S3::Bucket":
                bucket = self.physical_name(logical_id)
                self.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
                versioning = ((res.get("Properties") or {}).get("VersioningConfiguration") or {}).get("Status")
                # the input bucket: every upload is a version of its own (not on s3rver, which keeps one
                # object per key: make run's input names no version, so each run reads the key's object)
                if versioning == "Enabled" and self.aws == "moto":
                    self.client("s3").put_bucket_versioning(
                        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
                    )
            elif kind == "AWS::DynamoDB::Table":
                self._provision_table(logical_id)
            elif kind == "AWS::SNS::Topic":
                self.client("sns").create_topic(Name=self.attribute(logical_id, "TopicName"))
            elif kind == "AWS::Serverless::StateMachine":
                self._provision_state_machine(logical_id, res.get("Properties") or {})

    def _provision_table(self, logical_id: str) -> None:
        ddb = self.client("dynamodb")
        name = self.physical_name(logical_id)
        definition = table_definition(self.template, logical_id, name)
        if self.audit_persists:
            # the table of earlier runs, kept on disk: used as it is when it has the template's keys
            # (dynalite has no TTL: items are kept until `make clean-local`, as moto keeps them)
            local_aws.ensure_table(ddb, definition)
            return
        ddb.create_table(**definition)
        ttl = ttl_attribute(self.template, logical_id)
        if ttl:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})

    def _provision_state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        """Registered with moto, so that a function that starts the state machine (StartRun)
        finds it; moto records executions, it does not run them (``make run`` does)."""
        definition = self.template_path.parent / str(props.get("DefinitionUri", "")) if self.template_path else None
        if definition is None or not definition.is_file():
            return
        text = definition.read_text(encoding="utf-8")
        for key, value in self.definition_substitutions(logical_id).items():
            text = text.replace("${" + key + "}", value)
        self.client("stepfunctions").create_state_machine(
            name=self.physical_name(logical_id).rsplit(":", 1)[-1],
            definition=text,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{self.stack_name}-state-machine",
            type=str(props.get("Type", "STANDARD")),
        )

    def prepare_database(self) -> None:
        if self.database_url.startswith("sqlite:///"):
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        layer.create_schema()

    # ------------------------------------------------------------ exports
    def export_s3(self, directory: Path | str) -> list[Path]:
        """Write every S3 object to ``directory/<bucket>/<key>``."""
        s3 = self.client("s3")
        written = []
        for bucket in s3.list_buckets()["Buckets"]:
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket["Name"]):
                for obj in page.get("Contents", []):
                    target = Path(directory) / bucket["Name"] / obj["Key"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket["Name"], obj["Key"], str(target))
                    written.append(target)
        return written

    def export_table(self, logical_id: str, path: Path | str) -> int:
        """Write a table's items to JSON Lines; return the number of items.

        Under moto the items are read from moto's own store: a Scan through
        the API serialises every page and takes minutes for a million items."""
        from boto3.dynamodb.types import TypeDeserializer

        des = TypeDeserializer()
        name = self.physical_name(logical_id)
        if self._mock is not None:
            from moto.dynamodb.models import dynamodb_backends

            items = (i.to_json()["Attributes"] for i in dynamodb_backends[ACCOUNT][REGION].get_table(name).all_items())
        else:
            pages = self.client("dynamodb").get_paginator("scan").paginate(TableName=name)
            items = (item for page in pages for item in page["Items"])
        count = 0
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for item in items:
                row = {k: des.deserialize(v) for k, v in item.items()}
                fh.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
                count += 1
        return count


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value))
