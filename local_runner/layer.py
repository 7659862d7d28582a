"""The harness's one door to the project's layer (``csv_dmap``): making it importable,
forgetting its per-container singletons, seeding users, creating its tables and
reading the user ids of a CSV. Nothing else in ``local_runner`` imports ``csv_dmap``
at module level, and ``asl_runner`` never does."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def ensure_layer_on_path() -> None:
    """The layer is importable the one way every part uses: the editable install
    (``make install``: ``pip install -e .``), as /opt/python is in Lambda. Says so when it is not."""
    try:
        import csv_dmap  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"the csv_dmap layer is not installed: run `make install` ({exc})") from None


def available() -> bool:
    ensure_layer_on_path()
    try:
        import csv_dmap  # noqa: F401
    except ImportError:
        return False
    return True


def reset() -> None:
    """Forget every per-container singleton of the layer (``csv_dmap.runtime.reset``)."""
    if available():
        from csv_dmap import runtime

        runtime.reset()


def discard_metrics() -> None:
    """Drop the metrics an invocation added (``make run`` without ``--verbose``). Powertools with
    ``POWERTOOLS_METRICS_DISABLED`` prints nothing at the end of an invocation but keeps the
    metrics, and prints them anyway once a metric has 100 values: past 100 batches, EMF lines
    would reach make run's output."""
    from csv_dmap.observability import metrics

    metrics.clear_metrics()


SEED_CHUNK = 5_000  # users per transaction when seeding
SEED_ATTEMPTS = 8  # tries of one chunk that meets a deadlock or a lock wait timeout


def seed_users(ids: Iterable[str], sleep: Any = None) -> int:
    """Insert users into ``users`` (idempotent), streamed, ``SEED_CHUNK`` per transaction. Two runs
    seeding one MariaDB at once can deadlock on the same index gaps; a chunk that meets a deadlock
    (1213) or a lock wait timeout (1205) is rolled back by the server and tried again after a
    growing pause. Returns how many ids were seeded; ``CannotRun`` (one line) if a chunk never goes in."""
    import random
    import time
    from itertools import batched

    from sqlalchemy.exc import OperationalError

    from csv_dmap.db import get_engine
    from csv_dmap.db import seed_users as seed

    pause = sleep or time.sleep
    engine, count = get_engine(), 0
    for chunk in batched(ids, SEED_CHUNK, strict=False):
        for attempt in range(SEED_ATTEMPTS):
            try:
                count += seed(engine, chunk, chunk=1_000)
                break
            except OperationalError as exc:
                args = getattr(exc.orig, "args", ())
                code = args[0] if args else None
                if code not in (1205, 1213) or attempt == SEED_ATTEMPTS - 1:
                    raise _seed_failed(exc, count) from None
                pause(random.uniform(0, 0.05 * 2**attempt))
    return count


def _seed_failed(exc: Exception, done: int) -> Exception:
    from asl_runner.cli import CannotRun

    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return CannotRun(f"seeding the users failed after {done:,} users: {detail}")


def create_schema() -> None:
    """Bring the database to the newest schema revision (Alembic), as the stack's
    schema custom resource does on deploy."""
    from csv_dmap.db import get_engine
    from csv_dmap.schema import upgrade

    upgrade(get_engine())


class CsvRecords:
    """A CSV read the way the pipeline reads it (``csv_dmap.logic.validation``: any encoding and
    delimiter it accepts; ``\\n``, ``\\r\\n`` or ``\\r`` line ends; quoted fields that span lines; blank records
    skipped), streamed: ``user_ids()`` yields the valid user ids and counts every data record in
    ``count``. A file the pipeline would reject yields nothing: the run then rejects it, with the
    named error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def user_ids(self) -> Iterator[str]:
        ensure_layer_on_path()
        from csv_dmap.errors import InputRejected
        from csv_dmap.logic.validation import LIMITS, open_source
        from csv_dmap.models import is_valid_user_id

        try:
            source = open_source(lambda: open(self.path, "rb"), LIMITS)  # noqa: SIM115 - closed by source.close()
        except InputRejected:
            return
        try:
            for _line, cells in source.records():
                self.count += 1
                uid = source.user_id(cells)
                if is_valid_user_id(uid):
                    yield uid
        except InputRejected:
            return
        finally:
            source.close()


def execution_objects(execution_name: str, input_key: str) -> list[tuple[str, str]]:
    """(bucket logical id, key prefix) of every object an execution reads or writes: its input
    file, its staging copy (staging/) and its ResultWriter files. A redrive needs them back."""
    from csv_dmap.keys import results_prefix, staging_prefix

    objects = [("InputBucket", staging_prefix(execution_name)), ("ResultsBucket", results_prefix(execution_name))]
    return ([("InputBucket", input_key)] if input_key else []) + objects


class MapProgress:
    """Leaves a running local map's counts where ``csv-dmap --local status`` finds them.

    ``batch_done`` is called by every map worker thread as its batch ends: the counts and the file
    that shows them change under one lock, so the file never goes back to older counts, and each
    write has a temporary file of its own (``localdata.write_map_progress``)."""

    def __init__(self, execution_name: str, total: int, data_dir: Path | None = None) -> None:
        from datetime import UTC, datetime

        self.name, self.total, self.ok, self.bad = execution_name, total, 0, 0
        self.data_dir = data_dir
        self.started = datetime.now(UTC)
        self._lock = threading.Lock()

    def batch_done(self, rows: int, succeeded: bool) -> None:
        from .localdata import write_map_progress

        with self._lock:
            if succeeded:
                self.ok += rows
            else:
                self.bad += rows
            write_map_progress(
                self.name,
                total=self.total,
                succeeded=self.ok,
                failed=self.bad,
                started=self.started,
                data_dir=self.data_dir,
            )

    def close(self) -> None:
        from .localdata import clear_map_progress

        with self._lock:
            clear_map_progress(self.name, self.data_dir)
