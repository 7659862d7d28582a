import pytest

from tests.e2e.local_lab import isolate_local_stores


@pytest.fixture(autouse=True)
def _local_stores(monkeypatch, tmp_path):
    """Every local run of these tests keeps its audit table and S3 under the test's own directory."""
    isolate_local_stores(monkeypatch, tmp_path)
