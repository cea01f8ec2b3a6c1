{#-
  Tests that read what a build changed. An incremental build adds or replaces the rows of batches after
  each model's watermark, so on such a build a model's generic tests read only those rows: the rows whose
  watermark column (var `test_scope`: model -> column) is above the model's watermark before the build.
  Singular tests (tests/*.sql) drive from `rows_written(ref(...))`, the same rows. The whole stays true by
  construction: unique keys are unique indexes or delete+insert on the key; the GX deep check reads every
  row of the published marts. A full refresh records 0, so its tests read every row; so does any run with
  `--vars '{test_all_rows: true}'`.

  on-run-start of `dbt build` / `dbt run`: record each scoped model's watermark before anything is built
  (a view: its upstream models' newest), in monitoring.dbt_test_scope (beside monitoring.dbt_results,
  the runs' other record). `dbt test` alone records nothing: it tests what the last build changed.
-#}
{% macro record_test_scope() %}
    {% if not execute or flags.WHICH not in ('build', 'run') %}{{ return('') }}{% endif %}
    {%- set scoped = var('test_scope', {}) -%}
    {%- set marks = {} -%}
    {%- set views = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name in scoped -%}
        {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
        {%- if relation is none or flags.FULL_REFRESH -%}
            {%- do marks.update({node.unique_id: '0'}) -%}
        {%- elif node.config.materialized == 'view' -%}
            {%- do views.append(node) -%}
        {%- else -%}
            {%- set after -%}(select coalesce(max({{ adapter.quote(scoped[node.name]) }}), 0) from {{ relation }}){%- endset -%}
            {%- do marks.update({node.unique_id: after}) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- A view computes its rows on read (max() over it would read them all): its mark is the newest batch
        its scoped upstream models held, as batch ids only grow; 0 (every row) when one of them is new. -#}
    {%- for node in views -%}
        {%- set upstream = [] -%}
        {%- for parent in node.depends_on.nodes if parent in marks -%}{%- do upstream.append(marks[parent]) -%}{%- endfor -%}
        {%- set after = '0' if not upstream or '0' in upstream else 'greatest(' ~ upstream | join(', ') ~ ')' -%}
        {%- do marks.update({node.unique_id: after}) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for unique_id, after in marks.items() -%}
        {%- do statements.append("('" ~ graph.nodes[unique_id].name ~ "', " ~ after ~ ")") -%}
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

{#- The condition that narrows `relation` to the rows the last build wrote, or '' (every row). The mark
    is read when the test runs and written as a number: the planner then reads the column's index for a
    day's rows (behind a subquery it guessed a third of the table and scanned it all). -#}
{% macro test_scope_condition(relation) -%}
    {%- set column = var('test_scope', {}).get(relation.identifier) -%}
    {%- if column and not var('test_all_rows', false) -%}
        {%- set after = namespace(value=0) -%}
        {%- if execute -%}
            {%- set found = run_query(
                "select after_batch from monitoring.dbt_test_scope where model = '" ~ relation.identifier ~ "'"
            ) -%}
            {%- if found.rows | length > 0 -%}{%- set after.value = found.rows[0][0] | int -%}{%- endif -%}
        {%- endif -%}
        {{ adapter.quote(column) }} > {{ after.value }}
    {%- endif -%}
{%- endmacro %}

{#- For singular tests: `relation`, or its rows the last build wrote (a derived table to alias). -#}
{% macro rows_written(relation) -%}
    {%- set condition = test_scope_condition(relation) | trim -%}
    {%- if condition -%}
        (select * from {{ relation }} where {{ condition }})
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- dbt's own hook for the relation a generic test reads (`where` config), narrowed as above. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set scoped = test_scope_condition(relation) | trim -%}
    {%- if scoped -%}{%- do conditions.append(scoped) -%}{%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
