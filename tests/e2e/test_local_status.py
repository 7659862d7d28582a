"""``csv-dmap --local status`` while a real local map runs: the progress it reports increases
batch after batch, with a rate and an ETA, and gives way to the run summary at the end."""

from __future__ import annotations

import json

from csv_dmap_cli.backends import LocalBackend
from tests.e2e.test_redrive import SEEDED, TEXT, run_args


def test_status_of_a_running_local_map_increases_and_has_an_eta(tmp_path, monkeypatch, capsys):
    from csv_dmap.db import build_engine, create_schema, seed_users
    from local_runner import layer
    from local_runner.run import main as make_run

    data = tmp_path / "data"
    monkeypatch.setenv("CSV_DMAP_LOCAL_DATA", str(data))
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = build_engine(db)
    create_schema(engine)
    seed_users(engine, SEEDED)
    engine.dispose()
    csv = tmp_path / "activity.csv"
    csv.write_text(TEXT, encoding="utf-8")

    seen = []
    original = layer.MapProgress.batch_done

    def batch_done(self, rows, ok):
        original(self, rows, ok)
        seen.append(LocalBackend(data).status(self.name))  # what an operator's status shows now

    monkeypatch.setattr(layer.MapProgress, "batch_done", batch_done)
    assert make_run(run_args(csv, db, tmp_path / "out")) == 0
    name = json.loads(capsys.readouterr().out)["execution"]

    assert all(s["state"] == "RUNNING" for s in seen) and len(seen) == 7  # 62 rows, batches of 10
    done = [s["progress"]["done"] for s in seen]
    assert done == [10, 20, 30, 40, 50, 60, 62]
    assert [s["progress"]["total"] for s in seen] == [62] * 7
    assert all(s["progress"]["rows_per_second"] > 0 for s in seen)
    assert [s["progress"]["eta_seconds"] is not None for s in seen[:-1]] == [True] * 6
    assert seen[-1]["progress"]["eta_seconds"] == 0
    after = LocalBackend(data).status(name)
    assert after["state"] == "SUCCEEDED" and after["summary"]["rows"] == 62
