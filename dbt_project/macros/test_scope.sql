{#-
  Tests that read what a build changed. An incremental build adds or replaces the rows of batches after
  each model's watermark, so on such a build a model's generic tests read only those rows: the rows whose
  watermark column (var `test_scope`: model -> column) is above the model's watermark before the build.
  The whole stays true by construction: unique keys are unique indexes or delete+insert on the key, and
  the singular tests (tests/*.sql) still read everything. A full refresh records 0, so its tests read every
  row; so does any run with `--vars '{test_all_rows: true}'`.

  on-run-start of `dbt build` / `dbt run`: record each scoped model's watermark before anything is built,
  in monitoring.dbt_test_scope (beside monitoring.dbt_results, the runs' other record). `dbt test` alone records nothing: it tests what the last build changed.
-#}
{% macro record_test_scope() %}
    {% if not execute or flags.WHICH not in ('build', 'run') %}{{ return('') }}{% endif %}
    {%- set statements = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name in var('test_scope', {}) -%}
        {%- set column = var('test_scope')[node.name] -%}
        {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
        {%- if relation is none or flags.FULL_REFRESH -%}
            {%- set after = '0' -%}
        {%- else -%}
            {%- set after -%}(select coalesce(max({{ adapter.quote(column) }}), 0) from {{ relation }}){%- endset -%}
        {%- endif -%}
        {%- do statements.append("('" ~ node.name ~ "', " ~ after ~ ")") -%}
    {%- endfor %}
    create table if not exists monitoring.dbt_test_scope (
        model        text primary key,
        after_batch  bigint not null,
        recorded_at  timestamptz not null default now()
    );
    {% if statements %}
    insert into monitoring.dbt_test_scope (model, after_batch)
    values {{ statements | join(', ') }}
    on conflict (model) do update set after_batch = excluded.after_batch, recorded_at = now();
    {% endif %}
{% endmacro %}

{#- dbt's own hook for the relation a generic test reads (`where` config), narrowed as above. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set column = var('test_scope', {}).get(relation.identifier) -%}
    {%- if column and not var('test_all_rows', false) -%}
        {%- do conditions.append(
            adapter.quote(column) ~ ' > coalesce((select after_batch from monitoring.dbt_test_scope'
            ~ " where model = '" ~ relation.identifier ~ "'), 0)"
        ) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
