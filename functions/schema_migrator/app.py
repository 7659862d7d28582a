"""Custom resource ``Custom::DatabaseSchema``: migrates the database to the
newest Alembic revision of the shared layer on stack Create and Update (so
the schema follows the code on every deploy), and does nothing on Delete.

A database ahead of this code (a revision it does not know, or past its head)
answers SUCCESS and is left unchanged: an update rollback sends the previous
code an Update against the database the failed update migrated, and an older
commit may be deployed on purpose. Migrations stay compatible with the
previous release (``csv_dmap.migrations``), so that code runs on it.

It connects exactly as the worker does (``csv_dmap.db.get_engine``: secret,
proxy endpoint, TLS and IAM authentication from the environment). A database
that is still starting (a new Aurora Serverless cluster, a proxy target not
yet registered) refuses connections for a while, so connecting is retried
until the Lambda's time runs short; then CloudFormation gets a FAILED with
the reason, never silence.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from csv_dmap.config import MigratorSettings, load
from csv_dmap.custom_resource import Context, Outcome, Request, handle
from csv_dmap.errors import ConfigurationError
from csv_dmap.observability import logger

try:  # cold start: a misconfigured migrator says so in its log, and answers CloudFormation FAILED (below)
    load(MigratorSettings)
except ConfigurationError as _exc:
    logger.error("misconfigured", extra={"error": str(_exc)})

CONNECT_ATTEMPTS = 8
CONNECT_PAUSE_SECONDS = 5.0


def migrate(request: Request) -> Mapping[str, str]:
    from sqlalchemy.exc import OperationalError

    from csv_dmap.db import get_engine, refresh_if_refused
    from csv_dmap.schema import current, migrate

    load(MigratorSettings)  # raises ConfigurationError: CloudFormation gets FAILED with its one line
    engine = get_engine()
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            before = current(engine)
            break
        except OperationalError as exc:  # not reachable yet: retry, then give up with the driver's reason
            logger.warning("database not reachable yet", extra={"attempt": attempt, "error": str(exc.orig)})
            refresh_if_refused(engine, exc)  # a login refused after a rotation: read the secret again
            if attempt == CONNECT_ATTEMPTS:
                raise ConnectionError(f"database unreachable after {attempt} attempts: {exc.orig}") from None
            time.sleep(CONNECT_PAUSE_SECONDS * attempt)
    migration = migrate(engine)
    log = logger.warning if migration.ahead else logger.info
    log(migration.describe(), extra={"from": before, "to": migration.after, "codeHead": migration.head})
    return {"Revision": migration.after or "", "PreviousRevision": migration.before or ""}


def physical_id(request: Request) -> str:
    return f"{request.LogicalResourceId}-schema"


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Context) -> dict[str, Any]:
    outcome: Outcome = handle(
        event,
        context,
        on_create_or_update=migrate,
        physical_id=physical_id,
        log=lambda msg, extra: logger.info(msg, extra=extra),
    )
    return {"Status": outcome.status, "Reason": outcome.reason, "Data": outcome.data}
