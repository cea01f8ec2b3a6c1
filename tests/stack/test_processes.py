"""The background processes' bookkeeping (stack/processes.py) and `make up`'s refusal of a taken port."""

from __future__ import annotations

import socket
import sys
from types import SimpleNamespace

import pytest

from stack import processes, up


def test_a_process_whose_pidfile_was_lost_is_found_as_a_stray_and_stopped(tmp_path) -> None:
    # named like a service (`airflow …`) so `down` may recognise it; it only sleeps
    cmd = [sys.executable, "-c", "import time; time.sleep(120)", "airflow-stray-test"]
    proc = processes.spawn("airflow-stray-test", cmd, {}, tmp_path / "stray.log")
    try:
        assert processes.running()["airflow-stray-test"] == proc.pid
        assert proc.pid not in processes.strays()  # listed: not a stray
        processes.forget("airflow-stray-test")  # as if a later start overwrote its pidfile
        assert proc.pid in processes.strays()
    finally:
        processes.stop_group(proc.pid)
    assert proc.poll() is not None and proc.pid not in processes.strays()


def test_make_up_refuses_a_port_something_already_answers_on() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = SimpleNamespace(settings={"AIRFLOW_API_PORT": str(port), "PGADMIN_PORT": "1"})
        with pytest.raises(up.NotReady, match=f"AIRFLOW_API_PORT={port}"):
            up._ports_free(env, celery=False)
