{#-
  Every order (latest version) with its items priced and its fate decided, per the contract:
    order_total = Σ(quantity × unit_price) − discount_amount + shipping_amount
    order_state = 'quarantined' when the order or any of its items breaks a rule, or it has no items;
                  'held' when its customer or one of its products has not arrived (valid) yet;
                  'valid' otherwise (what the marts show).
  Incremental: the orders whose header or items came in a new batch, every order still held (the run
  that brings the missing customer or product releases it), and the orders whose customer or product
  a new batch made valid or invalid: a run gives what a full refresh gives (tests/dbt/test_correctness.py). `input_batch_id` is the newest batch
  among the order, its items, its customer and its products: the facts pick up what changed from it.
  `former_customer_ids` keeps the customers an earlier version of the order named (lineage: empty on a
  full build), so the per-customer models recompute the customer an order left, not only the one it joined.
-#}
{{ config(unique_key='order_id') }}

{% if is_incremental() %}
{%- set seen = watermark('input_batch_id') %}
{#- a table from before former_customer_ids existed gains the column (on_schema_change) on this run -#}
{%- set kept = 'earlier.former_customer_ids' if has_column(this, 'former_customer_ids') else 'null::jsonb' %}
{%- set former_customer_ids -%}
case when earlier.customer_id <> coalesce(orders.customer_id, '')
            then coalesce({{ kept }}, '[]'::jsonb) || to_jsonb(earlier.customer_id) else {{ kept }} end
{%- endset %}
with changed as (
    -- joined, not `in (...) or in (...)`: with ORs of subqueries the planner may rescan per row
    select order_id from {{ ref('stg_shop__orders') }}
    where batch_id > {{ seen }}
    union
    select order_id from {{ ref('stg_shop__order_items') }}
    where batch_id > {{ seen }}
    union
    select order_id from {{ this }}
    where order_state = 'held'
    union
    -- a newer version of the customer changed its validity: the order's fate changes with it
    select priced.order_id
    from {{ this }} as priced
    inner join {{ ref('stg_shop__customers') }} as customers on priced.customer_id = customers.customer_id
    where customers.batch_id > {{ seen }} and customers.is_valid <> priced.is_customer_known
    union
    -- a newer version made one of its products invalid: the order is held until a valid one comes
    select items.order_id
    from {{ ref('stg_shop__order_items') }} as items
    inner join {{ ref('stg_shop__products') }} as products on items.product_id = products.product_id
    where products.batch_id > {{ seen }} and not products.is_valid
),

orders as (
    select stg.*
    from {{ ref('stg_shop__orders') }} as stg
    inner join changed on stg.order_id = changed.order_id
),

order_items as (
    select stg.*
    from {{ ref('stg_shop__order_items') }} as stg
    inner join changed on stg.order_id = changed.order_id
),
{% else %}
{%- set former_customer_ids = 'null::jsonb' %}
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),
{% endif %}

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

items_per_order as (
    select
        order_items.order_id,
        count(*)                                                        as item_count,
        sum(order_items.quantity * order_items.unit_price)              as items_subtotal,
        count(*) filter (where not order_items.is_valid)                as rejected_item_count,
        count(*) filter (
            where order_items.is_valid and not coalesce(products.is_valid, false)
        )                                                               as unknown_product_count,
        max(greatest(order_items.batch_id, products.batch_id))          as items_batch_id
    from order_items
    left join products on order_items.product_id = products.product_id
    group by order_items.order_id
),

priced as (
    select
        -- ids
        orders.order_id,
        orders.customer_id,
        -- strings
        orders.status,
        orders.payment_method,
        case
            when not orders.is_valid
                or items_per_order.order_id is null
                or items_per_order.rejected_item_count > 0 then 'quarantined'
            when not coalesce(customers.is_valid, false)
                or items_per_order.unknown_product_count > 0 then 'held'
            else 'valid'
        end                                                             as order_state,
        -- numerics
        coalesce(items_per_order.item_count, 0)::integer                as item_count,
        coalesce(items_per_order.items_subtotal, 0)::numeric(12, 2)     as items_subtotal,
        orders.discount_amount,
        orders.shipping_amount,
        (
            coalesce(items_per_order.items_subtotal, 0)
            - orders.discount_amount + orders.shipping_amount
        )::numeric(12, 2)                                               as order_total,
        -- booleans
        items_per_order.order_id is not null                            as has_items,
        coalesce(items_per_order.rejected_item_count > 0, false)        as has_rejected_item,
        coalesce(customers.is_valid, false)                             as is_customer_known,
        coalesce(items_per_order.unknown_product_count = 0, true)       as are_products_known,
        orders.status in {{ quoted_list(var('revenue_statuses')) }}     as is_revenue,
        -- timestamps and dates
        orders.ordered_at,
        (orders.ordered_at at time zone 'UTC')::date                    as order_date,
        orders.updated_at,
        orders.loaded_at,
        -- lineage
        greatest(orders.batch_id, items_per_order.items_batch_id, customers.batch_id) as input_batch_id,
        {{ former_customer_ids }}                                         as former_customer_ids
    from orders
    left join items_per_order on orders.order_id = items_per_order.order_id
    left join customers on orders.customer_id = customers.customer_id
    {%- if is_incremental() %}
    left join {{ this }} as earlier on orders.order_id = earlier.order_id
    {%- endif %}
)

select * from priced
