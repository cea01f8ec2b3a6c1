#!/usr/bin/env bash
# Roles, databases and schemas of the compose platform: the container mirror of stack/databases.py.
#
# The postgres image runs this once, when it initialises an empty data volume
# (/docker-entrypoint-initdb.d), as the superuser POSTGRES_USER. Passwords come from the container's
# environment (docker-compose.yml, from `.env`) and reach psql through \getenv: never on a command line,
# never in this file. To change one later: ALTER ROLE ... PASSWORD, or remove the postgres-data volume.
#
# - database `airflow`, owned by role `airflow`: Airflow's metadata (and the Celery result backend);
# - database `warehouse`, owned by role `warehouse` (administration only: no service uses it), with the
#   schemas raw (owned by `warehouse`) and staging, marts, marts_build, monitoring (owned by
#   `warehouse_transformer`);
# - `warehouse_loader` (the extract tasks) writes raw only; `warehouse_transformer` (dbt, GX, publish,
#   monitoring) reads raw and builds the rest; `warehouse_reader` (pgAdmin, the status endpoint) reads
#   the published marts and monitoring only.
#
# The grants below are the minimal set, kept simple on purpose: stack/databases.py is where the
# least-privilege roles are defined and evolve (ensure_use_roles, _grant_loader, _grant_reader); keep
# this file in step with it. Note that `marts` is replaced by a schema rename at each publication, so
# its grants travel with the schema object: the publish swap has to hand the reader's grants on.
set -euo pipefail

psql --set ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv airflow_password AIRFLOW_DB_PASSWORD
\getenv warehouse_password WAREHOUSE_DB_PASSWORD
\getenv loader_password WAREHOUSE_LOADER_PASSWORD
\getenv transformer_password WAREHOUSE_TRANSFORMER_PASSWORD
\getenv reader_password WAREHOUSE_READER_PASSWORD

create role airflow login password :'airflow_password';
create role warehouse login password :'warehouse_password';
create role warehouse_loader login password :'loader_password';
create role warehouse_transformer login password :'transformer_password';
create role warehouse_reader login password :'reader_password';

create database airflow owner airflow;
create database warehouse owner warehouse;

-- Only a database's owner, and the roles granted CONNECT, may connect to it.
revoke all on database airflow from public;
revoke all on database warehouse from public;
grant connect on database warehouse to warehouse_loader, warehouse_transformer, warehouse_reader;
-- The transformer creates the schemas dbt lacks (intermediate, snapshots) and a first build schema, and
-- temporary tables (dbt's incremental models and unit tests).
grant create, temporary on database warehouse to warehouse_transformer;

-- The owner administers what the loader and the transformer own.
grant warehouse_loader, warehouse_transformer to warehouse;
SQL

psql --set ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname warehouse <<'SQL'
-- As natively (ensure_schemas connects as the owner): the schemas, and the default privileges below,
-- belong to `warehouse`.
set role warehouse;

-- JIT off for every session (stack/databases.py, WAREHOUSE_SETTINGS: it cost more than it saved).
alter database warehouse set jit = off;

create schema raw;
create schema staging;
create schema marts;
create schema marts_build;
create schema monitoring;

-- Loader: creates and writes its tables in raw, nothing else.
grant usage, create on schema raw to warehouse_loader;

-- Transformer: reads raw (what the loader creates later too), owns the schemas it builds.
grant usage on schema raw to warehouse_transformer;
alter default privileges for role warehouse_loader in schema raw grant select on tables to warehouse_transformer;
alter schema staging owner to warehouse_transformer;
alter schema marts owner to warehouse_transformer;
alter schema marts_build owner to warehouse_transformer;
alter schema monitoring owner to warehouse_transformer;

-- Reader: reads the published marts and the monitoring history, tables created later included.
grant usage on schema marts, monitoring to warehouse_reader;
alter default privileges for role warehouse_transformer in schema marts, monitoring
    grant select on tables to warehouse_reader;
SQL
