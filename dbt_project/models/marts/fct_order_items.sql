{#- One row per line of a valid order. Rebuilt per order: the lines of every order fct_orders re-decided
    are replaced together (unique_key order_id), so a line that disappeared from a re-sent order goes too. -#}
{{
    config(
        unique_key='order_id',
        pre_hook="{{ delete_invalidated('order_id', ref('int_orders_priced'), \"order_state = 'valid'\", 'input_batch_id') }}",
    )
}}

with orders as (
    select * from {{ ref('int_orders_priced') }}
    where order_state = 'valid'
        {% if is_incremental() %}
        and input_batch_id > {{ watermark('input_batch_id') }}
        {% endif %}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

final as (
    select
        -- ids
        order_items.order_item_id,
        order_items.order_id,
        order_items.line_number,
        order_items.product_id,
        orders.customer_id,
        -- numerics
        order_items.quantity,
        order_items.unit_price,
        (order_items.quantity * order_items.unit_price)::numeric(12, 2)   as line_total,
        -- booleans
        orders.is_revenue,
        -- dates
        orders.order_date,
        -- lineage
        orders.input_batch_id
    from orders
    inner join order_items on orders.order_id = order_items.order_id
)

select * from final
