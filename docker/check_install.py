"""Build-time checks of the image (Dockerfile), standard library only.

    python check_install.py REQUIREMENTS   every pin of the exported lock is installed at its version,
                                           and Airflow is still the base image's (AIRFLOW_VERSION)
    python check_install.py --plugin       the project is installed and registers its Airflow plugin

Reads package metadata only: nothing imports Airflow here (that would write an airflow.cfg, with a
generated fernet key, into the image).
"""

from __future__ import annotations

import os
import re
import sys
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.*))?$")


def _applies(marker: str | None) -> bool:
    """The lock's markers here are sys_platform / implementation tests; evaluate them with packaging
    (an Airflow dependency, so present) when there is one."""
    if not marker:
        return True
    from packaging.markers import Marker

    return Marker(marker).evaluate()


def check_pins(requirements: Path) -> list[str]:
    problems = []
    for line in requirements.read_text().splitlines():
        match = PIN.match(line.strip())
        if not match or not _applies(match.group(3)):
            continue
        name, wanted = match.group(1), match.group(2)
        try:
            installed = version(name)
        except PackageNotFoundError:
            problems.append(f"{name}=={wanted} is locked but not installed")
            continue
        if installed != wanted:
            problems.append(f"{name}: locked {wanted}, installed {installed}")
    airflow = version("apache-airflow")
    if airflow != os.environ["AIRFLOW_VERSION"]:
        problems.append(f"apache-airflow {airflow} is not the base image's {os.environ['AIRFLOW_VERSION']}")
    return problems


def check_plugin() -> list[str]:
    names = entry_points(group="airflow.plugins").names
    return [] if "shop_warehouse" in names else ["the monitoring plugin (airflow.plugins) is not registered"]


def main(argv: list[str]) -> int:
    problems = check_plugin() if argv == ["--plugin"] else check_pins(Path(argv[0]))
    for problem in problems:
        print(f"check_install: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
