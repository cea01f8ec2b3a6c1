"""The Airflow glue: what the DAG files (dags/) and the monitoring plugin share.

Connections and Variables (connections.py), paths (paths.py), Asset names (assets.py), default args
(defaults.py), quality gates as Airflow failures (gates.py), the Cosmos configuration (cosmos_wiring.py),
and the task bodies that are more than wiring (elt.py, monitor.py, health.py). Importing any of them is
cheap: psycopg, GX, dbt and pandas are imported inside the functions, so the DAG files parse fast.
`stack/` (the local platform) may import this package; nothing here imports `stack/`.
"""
