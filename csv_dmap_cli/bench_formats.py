"""Which format for the per-row results dataset? Writes 1,000,000 synthetic
rows as gzip JSON Lines (stdlib) and as Parquet (pyarrow, zstd and snappy),
then times DuckDB reading them (a full scan and the monthly-increase query's aggregate).

    .venv/bin/python -m csv_dmap_cli.bench_formats [--rows 1000000] [--dir /tmp/fmt]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _rows(n: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    for i in range(n):
        failed = rng.random() < 0.02
        yield {
            "execution_name": "local-20261123T100000-abcd",
            "line": i + 2,
            "user_id": f"U{i:07d}",
            "raw_user_id": None,
            "status": "FAILED" if failed else "APPLIED",
            "old_login_count": None if failed else rng.randrange(100),
            "new_login_count": None if failed else rng.randrange(100, 200),
            "old_post_count": None if failed else rng.randrange(500),
            "new_post_count": None if failed else rng.randrange(500, 900),
            "error_type": "UserNotFound" if failed else None,
            "error_message": f"user U{i:07d} is not in users" if failed else None,
            "superseded_by": None,
            "update_timestamp": "2026-11-23 10:00:00.123456",
            "source_key": "incoming/users.csv",
        }


def write_jsonl(path: Path, n: int) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as fh:
        for r in _rows(n):
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")


def write_parquet(path: Path, n: int, compression: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # one row group per 100,000 rows, as the dataset writer would stream them
    rows = _rows(n)
    writer = None
    while chunk := [r for _, r in zip(range(100_000), rows, strict=False)]:
        table = pa.Table.from_pylist(chunk)
        writer = writer or pq.ParquetWriter(path, table.schema, compression=compression)
        writer.write_table(table)
    if writer:
        writer.close()


def main() -> None:
    import duckdb

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/fmt-bench")
    args = parser.parse_args()
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "jsonl.gz": out / "rows.json.gz",
        "parquet-zstd": out / "rows.zstd.parquet",
        "parquet-snappy": out / "rows.snappy.parquet",
    }
    for name, path in files.items():
        t = time.perf_counter()
        if name == "jsonl.gz":
            write_jsonl(path, args.rows)
        else:
            write_parquet(path, args.rows, name.split("-")[1])
        print(f"{name:16} write {time.perf_counter() - t:6.2f} s  size {path.stat().st_size / 1e6:7.2f} MB")
    con = duckdb.connect()
    con.execute("SET threads=1")
    for name, path in files.items():
        src = (
            f"read_parquet('{path}')"
            if "parquet" in name
            else (
                f"read_json('{path}', format='newline_delimited', columns={{'user_id':'VARCHAR','status':'VARCHAR',"
                f"'old_login_count':'BIGINT','new_login_count':'BIGINT','old_post_count':'BIGINT','new_post_count':'BIGINT',"
                f"'update_timestamp':'TIMESTAMP','line':'BIGINT','execution_name':'VARCHAR','raw_user_id':'VARCHAR',"
                f"'error_type':'VARCHAR','error_message':'VARCHAR','superseded_by':'BIGINT','source_key':'VARCHAR'}})"
            )
        )
        for label, sql in (
            ("scan", f"SELECT count(*), sum(line), count(DISTINCT user_id), max(error_message) FROM {src}"),
            (
                "monthly",
                (
                    f"SELECT date_trunc('month', CAST(update_timestamp AS TIMESTAMP)), "
                    f"sum(new_login_count - old_login_count), count(*) FROM {src} WHERE status='APPLIED' GROUP BY 1"
                ),
            ),
        ):
            best = min(_timed(con, sql) for _ in range(3))
            print(f"{name:16} {label:9} {best:6.3f} s (best of 3, 1 thread)")


def _timed(con: Any, sql: str) -> float:
    t = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
