"""Write-audit-publish for the marts: dbt builds into `marts_build`, GX audits it, publish/swap.py publishes.

Constants only here (DAG files import them at parse time); the work is in publish/swap.py.
"""

BUILD_SCHEMA = "marts_build"  # dbt_project.yml: the marts' +schema
PUBLISHED_SCHEMA = "marts"  # what consumers (reports, pgAdmin, BI) read
# The marts the audit (GX checkpoint marts_publish) checks; each is an Airflow Asset `marts.<name>`.
MARTS = (
    "fct_orders",
    "fct_order_items",
    "rpt_daily_revenue",
    "dim_customers",
    "dim_products",
    "fct_sessions",
)
