"""The container setup, checked statically: docker-compose.yml, Dockerfile, .dockerignore and docker/.

Nothing is built or started (a machine without a Docker engine runs these too). When a Docker client
with the compose plugin is there, `docker compose config` also parses the file with dummy values.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stack.databases import NEEDED

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKER_DIR = ROOT / "docker"

AIRFLOW = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
ONE_SHOT = {"databases-init", "airflow-init"}
SERVICES = {"postgres", "redis", "pgadmin", "docs", *AIRFLOW, *ONE_SHOT}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)
REQUIRED_REF = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$")  # the whole value is ${VAR:?message}
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")  # $${...} is a literal $
URL_PASSWORD = re.compile(r"://[^/\s:@]*:([^@\s]+)@")
JSON_PASSWORD = re.compile(r'"password"\s*:\s*"([^"]*)"')
# Classic default credentials, as user/password pairs or assignments.
WEAK = re.compile(
    r"(?i)\b(admin|airflow|postgres|root|guest|password|changeme|secret)\s*[:/]\s*\1\b(?!\.)"
    r"|(?i:password|passwd|secret)\s*[=:]\s*[\"']?(admin|airflow|postgres|root|password|changeme|secret|123456)[\"']?\s*$",
    re.MULTILINE,
)


# -- helpers ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def strings(node: object) -> Iterator[str]:
    """Every string value of a parsed YAML document (comments are not values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def documented_keys() -> set[str]:
    """Keys .env.example documents, set or commented out (`# KEY=...`)."""
    return set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their continuation lines joined; comments (also inside a continuation) and
    blank lines dropped, as Docker does. Enough for this Dockerfile: no heredocs, no escape directive."""
    found, parts, start = [], [], 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1].strip())
            continue
        parts.append(line)
        keyword, _, args = " ".join(parts).partition(" ")
        found.append(Instruction(keyword.upper(), args.strip(), start))
        parts = []
    assert not parts, "the Dockerfile ends inside a line continuation"
    return found


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[last_from:]


def from_image(ins: Instruction) -> tuple[str, str | None]:
    """(image, stage name) of a FROM instruction."""
    words = [w for w in ins.args.split() if not w.startswith("--")]
    return words[0], (words[2] if len(words) >= 3 and words[1].upper() == "AS" else None)


def pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def ignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line.strip("/") for line in lines if line and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    path = path.strip("/").removeprefix("./")
    return any(
        path == p or path.startswith(p + "/") or fnmatch.fnmatch(path, p)
        for p in patterns
        if not p.startswith("!")
    )


def sources(ins: Instruction) -> list[str]:
    """Build-context paths a COPY/ADD reads (none when it copies from a stage or an image)."""
    if ins.args.startswith("["):
        words = json.loads(ins.args)
        flags = []
    else:
        words = shlex.split(ins.args)
        flags = [w for w in words if w.startswith("--")]
        words = [w for w in words if not w.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return []
    return words[:-1]


def assignments(ins: Instruction) -> dict[str, str]:
    """The variables of an ENV or ARG: `K=v K2=v2`, or the legacy `K v`."""
    words = shlex.split(ins.args)
    if "=" in words[0]:
        return dict(word.partition("=")[::2] for word in words)
    return {words[0]: " ".join(words[1:])}


def bind_mount_sources(ins: Instruction) -> list[str]:
    """Build-context files a RUN bind-mounts (`--mount=type=bind,source=...` without `from=`)."""
    found = []
    for flag in re.findall(r"--mount=(\S+)", ins.args):
        options = dict(part.partition("=")[::2] for part in flag.split(","))
        if options.get("type") == "bind" and "from" not in options:
            found.append(options.get("source", "."))
    return found


# -- docker-compose.yml ------------------------------------------------------------------------------
def test_every_expected_service_is_defined(services: dict) -> None:
    assert set(services) >= SERVICES, f"missing services: {sorted(SERVICES - set(services))}"


def test_long_running_services_have_healthchecks(services: dict) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart", "no") == "no", f"{name} is one-shot: it must not restart"
            continue
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        test = check.get("test")
        assert test and (isinstance(test, str) or test[0] in ("CMD", "CMD-SHELL")), f"{name}: no healthcheck"


def test_dependencies_wait_for_health_or_completion(services: dict) -> None:
    for name in AIRFLOW:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["pgadmin"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, spec in depends.items():
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target}'s health: none"
            elif condition == "service_completed_successfully":
                assert target in ONE_SHOT, f"{name} waits for {target} to complete: it never does"
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r} (want healthy or completed)")


def test_worker_scales(services: dict) -> None:
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "hostname" not in worker, "a fixed name cannot scale"
    assert not worker.get("ports"), "a published port would collide at --scale airflow-worker=3"
    assert worker["command"][:2] == ["celery", "worker"]


def test_published_ports_bind_to_loopback_only(services: dict) -> None:
    published = 0
    for name, service in services.items():
        for port in service.get("ports") or []:
            published += 1
            if isinstance(port, dict):  # long syntax
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port} listens beyond 127.0.0.1"
    assert published >= 3  # Airflow, pgAdmin, docs
    assert "127.0.0.1:${PGADMIN_PORT:-5050}:80" in services["pgadmin"]["ports"]


def test_no_literal_secret(compose: dict, services: dict) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key) and not key.endswith("_FILE"):  # a _FILE names a path, not a secret
                assert REQUIRED_REF.match(value), (
                    f"{name}: {key} must be ${{VAR:?...}} from .env, not {value!r}"
                )
    for text in strings(compose):
        for found in URL_PASSWORD.findall(text) + JSON_PASSWORD.findall(text):
            assert REQUIRED_REF.match(found), f"a literal password in {text!r}"
    for path in [COMPOSE, DOCKERFILE, *sorted(DOCKER_DIR.iterdir())]:
        match = WEAK.search(path.read_text())
        assert not match, f"{path.name}: default credentials {match.group(0)!r}"


def test_weak_credentials_pattern_catches_defaults() -> None:
    for bad in (
        "postgres/postgres",
        "admin:admin",
        "airflow:airflow@db",
        "PASSWORD=changeme",
        "password: airflow",
    ):
        assert WEAK.search(bad), bad
    for fine in (
        "--chown=airflow:0",
        "/opt/airflow/airflow.cfg",
        "operator:admin,monitor:viewer",
        "postgres:5432",
    ):
        assert not WEAK.search(fine), fine


def test_every_variable_is_documented_and_secrets_are_required(compose: dict) -> None:
    documented = documented_keys()
    used: dict[str, set[str]] = {}
    for text in strings(compose):
        for name, modifier in VARIABLE.findall(text):
            used.setdefault(name, set()).add(modifier[:2])
    assert used, "no ${VAR} in docker-compose.yml?"
    undocumented = sorted(set(used) - documented)
    assert not undocumented, f"not documented in .env.example: {undocumented}"
    for name, modifiers in used.items():
        if SECRET_KEY.search(name):
            assert modifiers == {":?"}, f"${{{name}}} must fail when missing (${{{name}:?...}})"


def test_celery_executor_with_a_redis_broker(services: dict) -> None:
    assert services["redis"]["image"].startswith("redis:")
    for name in AIRFLOW | {"airflow-init"}:
        env = environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        broker = env["AIRFLOW__CELERY__BROKER_URL"]
        assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379/\d+", broker), broker
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        for conn in ("WAREHOUSE", "WAREHOUSE_LOADER", "WAREHOUSE_READER", "AIRFLOW_API"):
            parsed = json.loads(env[f"AIRFLOW_CONN_{conn}"])
            assert REQUIRED_REF.match(parsed["password"]), f"AIRFLOW_CONN_{conn}"
        assert json.loads(env["AIRFLOW_CONN_AIRFLOW_API"])["login"] == "monitor"


def test_logs_are_shared_and_only_the_scheduler_skips_serving_them(compose: dict, services: dict) -> None:
    for name in AIRFLOW | {"airflow-init"}:
        mounts = {str(v).split(":")[1] for v in services[name]["volumes"]}
        assert {"/opt/airflow/logs", "/opt/airflow/config", "/opt/airflow/state"} <= mounts, name
    skipping = {name for name in AIRFLOW if "--skip-serve-logs" in services[name]["command"]}
    assert skipping == {"airflow-scheduler"}
    assert "x-airflow-common" in compose  # the shared Airflow config is one anchor


def test_images_are_pinned(services: dict) -> None:
    for name, service in services.items():
        assert "image" in service, f"{name}: no image"
        assert pinned(service["image"]), f"{name}: {service['image']} is not pinned"
    assert services["pgadmin"]["image"].startswith("dpage/pgadmin4:")


def test_compose_mounts_and_support_files(services: dict) -> None:
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{name} mounts {source}: missing"
    server = json.loads((DOCKER_DIR / "pgadmin-servers.json").read_text())["Servers"]["1"]
    assert server["Username"] == "warehouse_reader" and server["ConnectionParameters"]["passfile"]
    assert "Password" not in server


def test_roles_and_grants_come_from_the_projects_own_code(services: dict) -> None:
    """No hand-kept copy of the security rules: the one-shot `databases-init` runs stack.databases (what
    `make up` runs), with every password it needs, before anything uses the databases."""
    init = services["databases-init"]
    assert init["command"] == ["python", "-m", "stack.databases"]
    assert init["image"] == services["airflow-init"]["image"], "the project's image"
    assert set(NEEDED) <= set(init["environment"]), sorted(set(NEEDED) - set(init["environment"]))
    assert init["environment"]["PGHOST"] == "postgres"
    assert init["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("airflow-init", "pgadmin"):
        assert services[name]["depends_on"]["databases-init"]["condition"] == "service_completed_successfully"
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            assert "docker-entrypoint-initdb.d" not in str(volume), f"{name}: an init script beside the code"
    assert not list(DOCKER_DIR.glob("*init*.sh")), "a shell copy of the roles and grants"


def test_logins_use_fab_and_come_from_the_projects_own_code(services: dict) -> None:
    """Every Airflow service runs the FAB auth manager (hashed passwords and roles in the metadata
    database), as natively; airflow-init makes the logins with stack.airflow_logins (what `make up` runs)
    after migrating, and is the only service given the two passwords."""
    from stack.airflow_logins import AUTH_MANAGER, LOGINS

    for name in AIRFLOW | {"airflow-init"}:
        env = environment(services[name])
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == AUTH_MANAGER, name
        assert not [key for key in env if "SIMPLE_AUTH" in key], name
    script = services["airflow-init"]["command"][-1]
    assert script.index("airflow db migrate") < script.index("python -m stack.airflow_logins"), script
    keys = {key for _, key in LOGINS.values()}
    for name, service in services.items():
        given = keys & set(environment(service))
        assert given == (keys if name == "airflow-init" else set()), name
    for key in keys:
        assert REQUIRED_REF.match(environment(services["airflow-init"])[key]), key


def test_docker_compose_config_parses(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if not docker:
        pytest.skip("no docker client on this machine")
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker client has no compose plugin (`docker compose` is an unknown command)")
    env_file = tmp_path / "dummy.env"
    env_file.write_text("".join(f"{key}=dummy-{key.lower()}\n" for key in sorted(documented_keys())))
    cmd = [docker, "compose", "--project-directory", str(ROOT), "-f", str(COMPOSE)]
    result = subprocess.run(
        [*cmd, "--env-file", str(env_file), "config", "--quiet"], capture_output=True, text=True
    )
    if result.returncode != 0 and "docker daemon" in result.stderr.lower():
        pytest.skip(f"docker compose needs an engine here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr


# -- Dockerfile ----------------------------------------------------------------------------------------
def test_dockerfile_builds_on_the_pinned_airflow_image(instructions: list[Instruction]) -> None:
    stages: set[str] = set()
    for ins in instructions:
        if ins.keyword == "FROM":
            image, stage = from_image(ins)
            assert image in stages or pinned(image), f"line {ins.line}: {image} is not pinned"
            stages.add(stage or "")
    image, _ = from_image(final_stage(instructions)[0])
    assert re.fullmatch(r"apache/airflow:3\.3\.2(-python3\.1[0-3])?", image), image


def test_dockerfile_keeps_airflow_and_installs_the_lock(instructions: list[Instruction]) -> None:
    runs = " ".join(ins.args for ins in final_stage(instructions) if ins.keyword == "RUN")
    assert "uv export --frozen" in runs.replace("/tmp/uv-bin/uv", "uv")
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in runs  # the image's Airflow, pinned
    assert "--no-emit-package apache-airflow " in runs


def test_dockerfile_builds_the_dbt_manifest(instructions: list[Instruction]) -> None:
    parse = [ins for ins in final_stage(instructions) if ins.keyword == "RUN" and "dbt parse" in ins.args]
    assert parse, "no RUN runs `dbt parse`: Cosmos needs target/manifest.json in the image"
    assert all(f"WAREHOUSE_{key}=" in parse[0].args for key in ("HOST", "PORT", "USER", "PASSWORD", "DB"))


def test_dockerfile_runs_as_airflow(instructions: list[Instruction]) -> None:
    users = [ins.args for ins in final_stage(instructions) if ins.keyword == "USER"]
    assert users and users[-1] == "airflow", f"the image ends as USER {users[-1] if users else 'root'}"


def test_dockerfile_copies_what_exists_and_what_the_dags_import(instructions: list[Instruction]) -> None:
    patterns = ignore_patterns()
    copied: set[str] = set()
    for ins in final_stage(instructions):
        paths = sources(ins) if ins.keyword in ("COPY", "ADD") else []
        paths += bind_mount_sources(ins) if ins.keyword == "RUN" else []
        for source in paths:
            assert (ROOT / source).exists(), f"line {ins.line}: {source} is not in the repository"
            assert not ignored(source, patterns), f"line {ins.line}: .dockerignore excludes {source}"
            copied.add(source.strip("/"))
    imported: set[str] = set()
    for dag in (ROOT / "dags").glob("*.py"):
        for node in ast.walk(ast.parse(dag.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
    local = {name for name in imported if (ROOT / name / "__init__.py").is_file()}
    assert local, "the DAGs import none of the project's packages?"
    needed = local | {"dags", "dbt_project", "gx"}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"


def test_dockerfile_bakes_no_secret(instructions: list[Instruction]) -> None:
    for ins in instructions:
        if ins.keyword not in ("ENV", "ARG"):
            continue
        for key, value in assignments(ins).items():
            assert not SECRET_KEY.search(key), f"line {ins.line}: {ins.keyword} {key}"
            assert not key.startswith("WAREHOUSE_"), f"line {ins.line}: dbt's placeholders stay in their RUN"
            assert not URL_PASSWORD.search(value), f"line {ins.line}: credentials in {key}"


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    patterns = ignore_patterns()
    for path in (".env", ".state", ".venv", ".git", "dbt_project/target", "gx/uncommitted"):
        assert ignored(path, patterns), f".dockerignore does not exclude {path}"
