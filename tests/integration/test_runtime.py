"""One reset forgets every per-container singleton of the layer."""

from __future__ import annotations

from csv_dmap import audit, aws, config, db, runtime


def test_reset_forgets_settings_engine_repository_writer_and_clients(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'a.sqlite'}")
    monkeypatch.setenv("AUDIT_TABLE_NAME", "table-a")
    runtime.reset()
    before = (
        config.load(config.WorkerSettings),
        db.get_engine(),
        db.get_repository(),
        audit.get_audit_writer(),
        aws.s3_client(),
        aws.sns_client(),
        aws.dynamodb_client(),
    )
    assert before[1].url.database.endswith("a.sqlite") and before[3].table_name == "table-a"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'b.sqlite'}")
    monkeypatch.setenv("AUDIT_TABLE_NAME", "table-b")
    assert db.get_engine() is before[1]  # cached until reset: a warm container
    runtime.reset()
    after = (
        config.load(config.WorkerSettings),
        db.get_engine(),
        db.get_repository(),
        audit.get_audit_writer(),
        aws.s3_client(),
        aws.sns_client(),
        aws.dynamodb_client(),
    )
    assert all(a is not b for a, b in zip(after, before, strict=True))
    assert after[1].url.database.endswith("b.sqlite") and after[3].table_name == "table-b"
    assert after[2].engine is after[1]
    runtime.reset()
