{#-
  on-run-end: one row per executed node in monitoring.dbt_results, tagged with the Airflow run that
  invoked dbt (Cosmos runs dbt once per task, so the rows of one DAG run add up to one picture).
-#}
{% macro record_run_results(results) %}
    {% if not execute %}{{ return('') }}{% endif %}
    create table if not exists monitoring.dbt_results (
        airflow_run_id  text,
        invocation_id   text not null,
        unique_id       text not null,
        resource_type   text not null,
        name            text not null,
        status          text not null,
        execution_time  double precision,
        rows_affected   bigint,
        failures        integer,
        message         text,
        recorded_at     timestamptz not null default now()
    );
    {% if results | length > 0 %}
    insert into monitoring.dbt_results
        (airflow_run_id, invocation_id, unique_id, resource_type, name, status,
         execution_time, rows_affected, failures, message)
    values
    {%- for result in results %}
        (
            {{ quoted(env_var('AIRFLOW_CTX_DAG_RUN_ID', '')) }}, '{{ invocation_id }}',
            {{ quoted(result.node.unique_id) }}, {{ quoted(result.node.resource_type) }},
            {{ quoted(result.node.name) }}, {{ quoted(result.status) }},
            {{ result.execution_time or 'null' }},
            {{ (result.adapter_response or {}).get('rows_affected') if (result.adapter_response or {}).get('rows_affected') is not none else 'null' }},
            {{ result.failures if result.failures is not none else 'null' }},
            {{ quoted(result.message or '') }}
        ){{ "," if not loop.last }}
    {%- endfor %};
    {% endif %}
{% endmacro %}

{% macro quoted(value) -%}
    '{{ (value | string) | replace("'", "''") }}'
{%- endmacro %}
