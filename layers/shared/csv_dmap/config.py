"""Configuration of each function, read from its environment and validated at cold start.

One model per function, each with exactly the variables that function reads,
composed from small shared pieces (the database connection shared by the worker
and the schema migrator; results bucket, timezone and alert topic where several
functions need them). The template sets these variables (each function's
Environment + Globals); the local runner sets the same ones. ``from_env`` is the
only place that reads ``os.environ``.

A handler module calls ``load(ItsSettings)`` when it is imported, so a
misconfigured function fails at cold start with one line naming the variable
(:class:`~csv_dmap.errors.ConfigurationError`); ``load`` is cached per model and
forgotten by ``csv_dmap.runtime.reset()`` (whoever switches environments calls it).
"""

from __future__ import annotations

import os
from enum import Enum
from functools import cache
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigurationError


class UnknownUserPolicy(str, Enum):
    """What the worker does with a user id that is not in ``users``."""

    FAIL = "FAIL"  # the row is a failed item with UserNotFound (the specified default)
    CREATE = "CREATE"  # insert the user into ``users`` and apply the row


class EnvSettings(BaseModel):
    """Base of every settings model: fields carry their environment variable as alias."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    @classmethod
    def aliases(cls) -> frozenset[str]:
        """The environment variables this model reads."""
        return frozenset(f.alias for f in cls.model_fields.values() if f.alias)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        known = cls.aliases()
        # An empty string in the template ("no value") means "not set".
        values = {k: v for k, v in env.items() if k in known and v != ""}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigurationError(_one_line(cls, exc)) from None


def _one_line(model: type[EnvSettings], exc: ValidationError) -> str:
    """``WorkerSettings: AUDIT_TTL_DAYS='x': Input should be a valid integer`` (first error, plus a count)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    field = model.model_fields.get(name)
    variable = (field.alias if field and field.alias else name) if first["loc"] else "environment"
    given = f"={first['input']!r}" if first["type"] != "missing" else " is not set"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{model.__name__}: {variable}{given}: {first['msg']}{more}"


# --------------------------------------------------------------------------- shared pieces


class DatabaseSettings(EnvSettings):
    """How to reach the database (worker and schema migrator).

    Either a SQLAlchemy URL, or a Secrets Manager secret (RDS format:
    username/password[/host/port/dbname]) plus an optional host override (the
    RDS Proxy endpoint)."""

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    db_secret_arn: str | None = Field(default=None, alias="DB_SECRET_ARN")
    db_host: str | None = Field(default=None, alias="DB_HOST")
    db_port: int = Field(default=3306, alias="DB_PORT")
    db_name: str = Field(default="csv_dmap", alias="DB_NAME")
    db_pool_size: int = Field(default=1, alias="DB_POOL_SIZE", ge=1)
    db_user: str | None = Field(default=None, alias="DB_USER")  # with DB_IAM_AUTH and no secret
    # TLS to the database (RDS Proxy: certificates from ACM, trusted by the default
    # CA store; Aurora directly: the RDS CA bundle at DB_CA_PATH).
    db_tls: bool = Field(default=False, alias="DB_TLS")
    db_ca_path: str | None = Field(default=None, alias="DB_CA_PATH")
    # IAM database authentication: a token from rds.generate_db_auth_token as the
    # password, a fresh one for every new connection (tokens live 15 minutes); implies TLS.
    db_iam_auth: bool = Field(default=False, alias="DB_IAM_AUTH")
    db_region: str | None = Field(default=None, alias="AWS_REGION")


class AuditSettings(EnvSettings):
    """The worker's audit log writer."""

    audit_table_name: str = Field(default="csv-dmap-audit", alias="AUDIT_TABLE_NAME")
    audit_ttl_days: int = Field(default=180, alias="AUDIT_TTL_DAYS", ge=1)
    audit_write_concurrency: int = Field(default=4, alias="AUDIT_WRITE_CONCURRENCY", ge=1, le=16)


class ResultsSettings(EnvSettings):
    """Where run summaries and reports live, and the day they belong to."""

    results_bucket: str | None = Field(default=None, alias="RESULTS_BUCKET")
    report_timezone: str = Field(default="Asia/Tokyo", alias="REPORT_TIMEZONE")


class AlertSettings(EnvSettings):
    alert_topic_arn: str | None = Field(default=None, alias="ALERT_TOPIC_ARN")


class ToleranceSettings(EnvSettings):
    # the run's tolerance of failed rows (bad data, unknown users), judged by AggregateErrors; a batch that
    # fails as a whole is never tolerated: it fails the map, and a redrive reruns it
    tolerated_failure_percentage: float = Field(default=5, alias="TOLERATED_FAILURE_PERCENTAGE", ge=0, le=100)


# --------------------------------------------------------------------------- one model per function


class WorkerSettings(DatabaseSettings, AuditSettings):
    unknown_user_policy: UnknownUserPolicy = Field(default=UnknownUserPolicy.FAIL, alias="UNKNOWN_USER_POLICY")


class MigratorSettings(DatabaseSettings):
    """The schema migrator connects exactly as the worker does."""


class ValidateSettings(EnvSettings):
    # two streaming passes over the object must fit Lambda's 15 minutes.
    max_input_bytes: int = Field(default=2 * 1024**3, alias="MAX_INPUT_BYTES", ge=1)


class PlanSettings(ResultsSettings, ToleranceSettings):
    """DetermineConcurrency: the map's batch size and concurrency, and the capacity bounding them."""

    db_max_concurrency: int = Field(default=10, alias="DB_MAX_CONCURRENCY", ge=1)
    max_items_per_batch: int = Field(default=500, alias="MAX_ITEMS_PER_BATCH", ge=1)
    target_duration_seconds: float = Field(default=300, alias="TARGET_DURATION_SECONDS", gt=0)
    # capacity: what the downstream bounds read (see logic/concurrency.py Limits)
    # database connections the workers may hold (the RDS Proxy's budget for this app)
    db_connection_budget: int = Field(default=100, alias="DB_CONNECTION_BUDGET", ge=1)
    # connections one worker holds: the worker's DB_POOL_SIZE, told to the planner
    db_pool_size: int = Field(default=1, alias="DB_POOL_SIZE", ge=1)
    # the database's write ceiling in rows/s (0: not bounded); measure it on the writer instance
    db_write_rows_per_second: float = Field(default=15000, alias="DB_WRITE_ROWS_PER_SECOND", ge=0)
    # the audit table's warm write throughput (0: a new on-demand table's 4,000 write units/s)
    audit_warm_write_units: int = Field(default=0, alias="AUDIT_WARM_WRITE_UNITS", ge=0)
    # the worker's reserved concurrency (0: unreserved, bounded by the account's concurrency)
    worker_reserved_concurrency: int = Field(default=0, alias="WORKER_RESERVED_CONCURRENCY", ge=0)
    lambda_account_concurrency: int = Field(default=1000, alias="LAMBDA_ACCOUNT_CONCURRENCY", ge=1)


class AggregateSettings(ResultsSettings, AlertSettings, ToleranceSettings, AuditSettings):
    """AggregateErrors, and RunStatus for a run whose map failed: the same pass over the result
    files, which also rewrites the audit items the workers could not write."""

    # severity is relative to the tolerated failure percentage T: MEDIUM above
    # T x SEVERITY_MEDIUM_RATIO (default 0.5: 2.5% when T = 5%), HIGH above T (the run fails).
    severity_medium_ratio: float = Field(default=0.5, alias="SEVERITY_MEDIUM_RATIO", gt=0, lt=1)
    # rows per part file of the per-row results dataset (rows/execution_date=.../).
    row_results_part_rows: int = Field(default=100_000, alias="ROW_RESULTS_PART_ROWS", ge=1)


class ReportSettings(ResultsSettings, AlertSettings):
    """DailyReport."""


class RunStatusSettings(AggregateSettings):
    """RunStatus: a run that ended FAILED, TIMED_OUT or ABORTED; when its map failed, it
    aggregates the run as AggregateErrors would."""


class StartRunSettings(EnvSettings):
    # the state machine StartRun starts (one run per uploaded object version).
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")


@cache
def _load(model: type[EnvSettings]) -> EnvSettings:
    return model.from_env()


def load[S: EnvSettings](model: type[S]) -> S:
    """This container's settings of ``model`` (cached: forgotten by ``csv_dmap.runtime.reset()``)."""
    settings = _load(model)
    assert isinstance(settings, model)
    return settings


def forget() -> None:
    """Forget every loaded settings model (called by ``csv_dmap.runtime.reset``)."""
    _load.cache_clear()
