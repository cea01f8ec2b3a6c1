# shop-warehouse: two commands, `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
UV_VERSION := 0.13.8
BOOT := .state/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced

.PHONY: run reset up test bench down status install lint security format clean
CODE := extract orchestration dags publish gx monitoring stack simshop

## run: install, start Postgres, migrate Airflow, run elt_ecommerce end to end on the demo shop's exports,
##      or on yours: INBOX=<folder or s3://bucket/prefix>; DATE=YYYY-MM-DD labels the run (optional)
run: $(SYNCED)
	@$(VENV)/bin/python -m stack run $(if $(DATE),--date '$(DATE)') $(if $(INBOX),--inbox '$(INBOX)')

## reset: empty the warehouse (raw, staging, marts, monitoring) and the demo shop, e.g. before your own exports
reset: $(SYNCED)
	@$(VENV)/bin/python -m stack reset

## up: the platform in the background: Airflow UI, dbt docs, GX data docs, report, pgAdmin (CELERY=1: Redis + 2 workers)
up: $(SYNCED)
	@$(VENV)/bin/python -m stack up $(if $(CELERY),--celery)

## test: the test suite against a real throwaway Postgres, Airflow, dbt and GX
test: $(SYNCED)
	@$(VENV)/bin/python -m stack browser
	@$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## bench: the load benchmark (loader vs psql \copy vs pandas to_sql, 1M orders); BENCH_ARGS="--orders N"
bench: $(SYNCED)
	@$(VENV)/bin/python bench/load_bench.py $(BENCH_ARGS)

## down: stop everything the project started
down:
	@if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python -m stack down; else echo "nothing to stop"; fi

## status: what runs, which UI answers, and each login
status: $(SYNCED)
	@$(VENV)/bin/python -m stack status

install: $(SYNCED)

lint: $(SYNCED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint dbt_project

## security: bandit over the project's code (medium severity and up; each exception marked in place)
security: $(SYNCED)
	$(VENV)/bin/bandit -q -r $(CODE) --severity-level medium

format: $(SYNCED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/sqlfluff fix dbt_project

## clean: stop, then delete the environment and all local state (the embedded database too; .env stays)
clean: down
	rm -rf $(VENV) .venv-pgadmin .state dbt_project/target dbt_project/logs gx/uncommitted

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION) into $(BOOT)"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@$(PYTHON) -m venv $(BOOT)
	@$(BOOT)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): pyproject.toml uv.lock | $(UV)
	@echo "==> installing the locked dependencies into $(VENV) (uv sync --frozen, bytecode compiled once here)"
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet --compile-bytecode --python $(PYTHON)
	@echo "==> fetching the GX data docs' CSS/JS from the npm registry (pinned, checked), for offline docs"
	@$(VENV)/bin/python -m gx.docs fetch
	@touch $@
