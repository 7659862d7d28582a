"""The harness's one door to the project's layer (``csv_dmap``): making it importable,
forgetting its per-container singletons, seeding users, creating its tables and
reading the user ids of a CSV. Nothing else in ``local_runner`` imports ``csv_dmap``
at module level, and ``asl_runner`` never does."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

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


def seed_users(ids: Iterable[str]) -> None:
    from csv_dmap.db import get_engine
    from csv_dmap.db import seed_users as seed

    seed(get_engine(), ids)


def create_schema() -> None:
    """Bring the database to the newest schema revision (Alembic), as the stack's
    schema custom resource does on deploy."""
    from csv_dmap.db import get_engine
    from csv_dmap.schema import upgrade

    upgrade(get_engine())


def read_user_ids(path: Path) -> Iterator[str]:
    """Valid user ids of a CSV, in any encoding the pipeline accepts, streamed, through the
    layer's own reading of a file (``csv_dmap.logic.validation.read_user_ids``). A file the
    pipeline would reject seeds nothing: the run itself then rejects it, with the named error."""
    ensure_layer_on_path()
    from csv_dmap.errors import InputRejected
    from csv_dmap.logic.validation import read_user_ids as layer_read

    def open_stream() -> BinaryIO:
        return open(path, "rb")

    try:
        yield from layer_read(open_stream)
    except InputRejected:
        return


def keep_for_analysis(
    s3: Any, results_bucket: str, dynamodb: Any, audit_table: str, execution_name: str, data_dir: Path | None = None
) -> None:
    """Copy a run's per-row results, summary, daily reports and audit items into
    ``.local/data`` (kept across runs until ``make clean``): what ``make query`` and
    ``csv-dmap --local`` read once moto has gone."""
    from csv_dmap_cli.localdata import export_local

    export_local(
        s3=s3,
        bucket=results_bucket,
        execution_name=execution_name,
        dynamodb=dynamodb,
        audit_table=audit_table,
        data_dir=data_dir,
    )


def execution_objects(execution_name: str, input_key: str) -> list[tuple[str, str]]:
    """(bucket logical id, key prefix) of every object an execution reads or writes: its input
    file, its staging copy (contract 1) and its ResultWriter files. A redrive needs them back."""
    from csv_dmap.input_files import STAGING_PREFIX

    objects = [("InputBucket", f"{STAGING_PREFIX}{execution_name}/"), ("ResultsBucket", f"results/{execution_name}/")]
    return ([("InputBucket", input_key)] if input_key else []) + objects


class MapProgress:
    """Leaves a running local map's counts where ``csv-dmap --local status`` finds them."""

    def __init__(self, execution_name: str, total: int, data_dir: Path | None = None) -> None:
        from datetime import UTC, datetime

        self.name, self.total, self.ok, self.bad = execution_name, total, 0, 0
        self.data_dir = data_dir
        self.started = datetime.now(UTC)

    def batch_done(self, rows: int, succeeded: bool) -> None:
        from csv_dmap_cli.localdata import write_map_progress

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
        from csv_dmap_cli.localdata import clear_map_progress

        clear_map_progress(self.name, self.data_dir)
