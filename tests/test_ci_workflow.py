"""The forge's CI workflow (.github/workflows/ci.yml) runs what the README says, plus lint, the security scan
and the image build. It is not run on this machine (no forge runner, no Docker engine): checked statically."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _readme_commands() -> dict[str, str]:
    """The README's two commands, by their target: the first fenced sh block's `make` lines."""
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "the README has no 'Two commands' section with a sh block"
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    return {line.split()[1]: line for line in lines}


def _runs() -> dict[str, list[str]]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return {name: [s["run"].strip() for s in job["steps"] if "run" in s] for name, job in jobs.items()}


def test_the_workflow_runs_the_readmes_test_command_as_ci_does() -> None:
    commands = _readme_commands()
    assert set(commands) == {"run", "test"}, commands
    runs = _runs()
    assert commands["test"] in runs["test"], runs
    assert (ROOT / ".ci" / "run").read_text().rstrip().splitlines()[-1] == commands["test"]


def test_the_workflow_lints_scans_and_builds_the_image() -> None:
    runs = _runs()
    assert {"make lint", "make security"} <= set(runs["lint"]), runs
    assert any(run.startswith("docker build") for run in runs["image"]), runs
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "lint", "security"):
        assert re.search(rf"^{target}:", makefile, re.M), f"no `make {target}`"
    assert "bandit" in makefile.split("\nsecurity:", 1)[1].split("\n\n", 1)[0]


def test_the_workflow_pins_its_actions_and_reads_only() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert job.get("timeout-minutes"), job
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+", step["uses"]), step["uses"]
