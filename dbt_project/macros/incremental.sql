{#-
  Incremental building blocks. Raw tables are append-only and every load batch takes the next id of one
  identity (raw.load_ledger), so "rows of batches after the highest one a model has seen" is what is new.
-#}

{#- `where` clause (or nothing on a full build): only rows of `column` after the model's watermark. -#}
{% macro after_watermark(column, watermark_column=none) -%}
    {%- if is_incremental() -%}
    where {{ column }} > {{ watermark(watermark_column or column) }}
    {%- endif -%}
{%- endmacro %}

{#-
  The watermark of this model: the highest `column` it holds, read when the model compiles and written
  into its SQL as a literal (0 on a full build). A literal, not a subquery: the planner then estimates
  "batch > N" from the column's statistics (a few rows) instead of guessing a third of the table, and
  picks index scans and no JIT for what is a small increment.
-#}
{% macro watermark(column) -%}
    {%- if is_incremental() -%}
    {%- set query -%}
    select coalesce(max({{ adapter.quote(column) }}), 0) from {{ this }}
    {%- endset -%}
    {{- run_query(query).columns[0].values()[0] | int -}}
    {%- else -%}
    0
    {%- endif -%}
{%- endmacro %}

{#-
  Latest version per key among the new rows (`cte`) and, on an incremental build, the version this model
  already holds for the same keys: a stale version sent late never replaces a newer one.
-#}
{% macro latest_per_key(cte, key_columns, order_by) -%}
    {%- set keys = key_columns | join(', ') -%}
    with candidates as (
        select * from {{ cte }}
        {%- if is_incremental() %}
        union all
        select * from {{ this }}
        where ({{ keys }}) in (select {{ keys }} from {{ cte }})
        {%- endif %}
    )
    select distinct on ({{ keys }}) *
    from candidates
    order by {{ keys }}, {{ order_by }}
{%- endmacro %}

{#-
  pre_hook of an incremental fact: delete the rows whose upstream record changed and is no longer valid
  (a later version broke a rule), so the fact never keeps what the quarantine holds.
-#}
{% macro delete_invalidated(key, upstream, condition, batch_column) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as target
    using {{ upstream }} as upstream
    where upstream.{{ key }} = target.{{ key }}
      and not ({{ condition }})
      and upstream.{{ batch_column }} > {{ watermark(batch_column) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
