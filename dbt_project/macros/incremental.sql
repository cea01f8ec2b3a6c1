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
  (a later version broke a rule), so the fact never keeps what the quarantine holds. `upstream_batch_column`
  names the upstream's batch column when it is not called like this model's watermark column.
-#}
{% macro delete_invalidated(key, upstream, condition, batch_column, upstream_batch_column=none) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as target
    using {{ upstream }} as upstream
    where upstream.{{ key }} = target.{{ key }}
      and not ({{ condition }})
      and upstream.{{ upstream_batch_column or batch_column }} > {{ watermark(batch_column) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Whether `relation` has `column` (a model upgraded in place may not have a column it added yet). -#}
{% macro has_column(relation, column) -%}
    {{- return(column in (adapter.get_columns_in_relation(relation) | map(attribute='name') | list)) -}}
{%- endmacro %}

{#-
  The customers whose orders changed after batch `seen`: the customer each changed order names now, and
  the ones its earlier versions named (an order that moved leaves its former customer's totals).
-#}
{% macro customers_of_changed_orders(seen) -%}
    select customer_id from {{ ref('int_orders_priced') }}
    where input_batch_id > {{ seen }} and customer_id is not null
    union
    select jsonb_array_elements_text(former_customer_ids) from {{ ref('int_orders_priced') }}
    where input_batch_id > {{ seen }} and former_customer_ids is not null
{%- endmacro %}

{#- pre_hook of a per-customer model: delete the customers whose orders changed; the model inserts again
    the ones that still have valid orders. -#}
{% macro delete_customers_of_changed_orders() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where customer_id in ({{ customers_of_changed_orders(watermark('input_batch_id')) }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The highest `column` in `relation`, as a literal; 0 when the relation or the column does not exist
    yet (a snapshot has no is_incremental()). -#}
{% macro relation_watermark(relation, column) -%}
    {%- set existing = adapter.get_relation(relation.database, relation.schema, relation.identifier) if execute -%}
    {%- if existing is none or not has_column(existing, column) -%}
    0
    {%- else -%}
    {%- set query -%}
    select coalesce(max({{ adapter.quote(column) }}), 0) from {{ existing }}
    {%- endset -%}
    {{- run_query(query).columns[0].values()[0] | int -}}
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of snap_customers: close the current version of every customer whose newer version (a
    batch the snapshot has not seen) broke a rule, as dbt's hard_deletes='invalidate' did when the
    snapshot compared every customer. -#}
{% macro close_invalidated_versions(upstream) -%}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) if execute -%}
    {%- if existing is none -%}
    select 1
    {%- else -%}
    update {{ existing }}
    set dbt_valid_to = {{ snapshot_get_time() }}
    where dbt_valid_to is null
      and customer_id in (
          select customer_id from {{ upstream }}
          where not is_valid and batch_id > {{ relation_watermark(existing, 'batch_id') }}
      )
    {%- endif -%}
{%- endmacro %}
