"""Runs files through the real definition under the local runner and gathers
what every part says about each row: the result files, the audit table, the
run summary and the database. Reads the stores directly (SQL, S3 objects,
DynamoDB items), not through the layer's own readers, so that what is
checked is what is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self

from boto3.dynamodb.types import TypeDeserializer
from sqlalchemy import create_engine, text

_des = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class Run:
    status: str
    error: str | None
    cause: str | None
    results: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    failed_children: list[dict[str, Any]] = field(default_factory=list)  # result-file records of FAILED children
    checkpoint: Any = None  # what a redrive of the execution needs


class PipelineHarness:
    def __init__(self, database_url: str, users: list[str], parameters: dict[str, str] | None = None):
        self.database_url = database_url
        self.users = users
        self.parameters = parameters or {}
        self._env_cm: Any = None

    def __enter__(self) -> Self:
        from local_runner.environment import LocalEnvironment

        self._env_cm = LocalEnvironment(database_url=self.database_url, quiet=True, parameters=self.parameters)
        self.env = self._env_cm.__enter__()
        self.engine = create_engine(self.database_url)
        with self.engine.begin() as conn:
            for uid in self.users:
                conn.execute(text("INSERT INTO users (user_id) VALUES (:u)"), {"u": uid})
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.dispose()
        self._env_cm.__exit__(*exc)

    # ------------------------------------------------------------ stores
    def stats(self) -> dict[str, tuple[int, int]]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT user_id, login_count, post_count FROM user_stats"))
            return {uid: (login, post) for uid, login, post in rows}

    def _objects(self, bucket: str, prefix: str) -> list[str]:
        s3 = self.env.client("s3")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def _json(self, bucket: str, key: str) -> Any:
        return json.loads(self.env.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def _results(self, name: str, failed: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The rows of the SUCCEEDED child executions; a record of another status is collected in
        ``failed`` when given, else it fails the test."""
        bucket = self.env.physical_name("ResultsBucket")
        out: list[dict[str, Any]] = []
        for key in self._objects(bucket, f"results/{name}/"):
            if not key.endswith("/manifest.json"):
                continue
            manifest = self._json(bucket, key)
            for status, files in manifest["ResultFiles"].items():
                for entry in files:
                    for record in self._json(bucket, entry["Key"]):
                        if status != "SUCCEEDED" and failed is not None:
                            failed.append(record)
                            continue
                        if status != "SUCCEEDED":
                            raise AssertionError(f"a {status} child execution: {json.dumps(record)[:2000]}")
                        out.extend(json.loads(record["Output"])["results"])
        return out

    def _audit(self, name: str) -> list[dict[str, Any]]:
        ddb = self.env.client("dynamodb")
        table = self.env.physical_name("AuditTable")
        items = []
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                plain = _plain({k: _des.deserialize(v) for k, v in item.items()})
                # docs/audit-table.md: sk = <start>#<execution>#<line:010d>; pk = U#<user> or E#<execution>#<shard>
                _, execution, line = plain["sk"].rsplit("#", 2)
                if execution != name:
                    continue
                plain["line"] = int(line)
                if plain["pk"].startswith("U#"):
                    plain.setdefault("userId", plain["pk"][2:])
                items.append(plain)
        return items

    def _summary(self, name: str) -> dict[str, Any]:
        bucket = self.env.physical_name("ResultsBucket")
        keys = [k for k in self._objects(bucket, "summaries/") if k.endswith(f"/{name}.json")]
        return self._json(bucket, keys[0]) if keys else {}

    # ------------------------------------------------------------ a run
    def run(self, data: bytes, name: str, *, may_fail: bool = False) -> Run:
        """Run ``data`` as the file ``incoming/<name>.csv``. With ``may_fail``, a run may have
        FAILED child executions (``Run.failed_children``), and an execution that did not succeed is
        announced as EventBridge does on AWS (RunStatus then writes its summary)."""
        from local_runner.exec_cli import run_definition
        from local_runner.pipeline import DEFINITION

        bucket = self.env.physical_name("InputBucket")
        key = f"incoming/{name}.csv"
        self.env.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
        execution_input = {"bucket": bucket, "key": key}
        result = run_definition(self.env, DEFINITION, input=execution_input, name=name)
        return self._gathered(result, name, execution_input if may_fail else None)

    def redrive(self, run: Run, name: str) -> Run:
        """Redrive a failed execution as RedriveExecution does (from its checkpoint, in this
        environment: same stores, same database)."""
        from local_runner.exec_cli import run_definition
        from local_runner.pipeline import DEFINITION

        assert run.checkpoint is not None, "only an execution that ran can be redriven"
        result = run_definition(self.env, DEFINITION, checkpoint=run.checkpoint)
        return self._gathered(result, name, run.checkpoint.input)

    def _gathered(self, result: Any, name: str, announce_input: Any) -> Run:
        failed: list[dict[str, Any]] | None = None
        if announce_input is not None:
            from local_runner.pipeline import announce

            failed = []
            if result.status != "SUCCEEDED":
                announce(self.env, result, announce_input)  # the status-change rule: RunStatus's summary
        return Run(
            status=result.status,
            error=result.error,
            cause=result.cause,
            results=self._results(name, failed),
            audit=self._audit(name),
            summary=self._summary(name),
            failed_children=failed or [],
            checkpoint=result.checkpoint,
        )
