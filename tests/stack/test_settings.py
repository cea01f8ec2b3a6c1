"""Per-install secrets: generated once into .env, never a fixed default."""

from __future__ import annotations

from pathlib import Path

from stack.settings import ensure_env_file, read_env_file


def test_env_file_generated_once_and_private(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    first = ensure_env_file(env_file)
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert ensure_env_file(env_file) == first == read_env_file(env_file)
    other = ensure_env_file(tmp_path / "other.env")
    for key in (
        "PG_SUPERUSER_PASSWORD",
        "AIRFLOW_DB_PASSWORD",
        "WAREHOUSE_DB_PASSWORD",
        "AIRFLOW_JWT_SECRET",
    ):
        assert len(first[key]) >= 24 and first[key] != other[key]


def test_missing_keys_are_added_without_touching_existing(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PG_PORT=61234\nWAREHOUSE_DB_PASSWORD=chosen-by-user\n")
    values = ensure_env_file(env_file)
    assert values["PG_PORT"] == "61234" and values["WAREHOUSE_DB_PASSWORD"] == "chosen-by-user"
    assert "AIRFLOW_DB_PASSWORD" in read_env_file(env_file)
