{#- One row per order that has items. Order total, per the contract:
    Σ(quantity × unit_price) over its items − discount_amount + shipping_amount. -#}
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

items_per_order as (
    select
        order_id,
        sum(quantity * unit_price)  as items_subtotal,
        count(*)                    as item_count
    from order_items
    group by order_id
),

priced as (
    select
        -- ids
        orders.order_id,
        orders.customer_id,
        -- strings
        orders.status,
        -- numerics
        items_per_order.items_subtotal::numeric(12, 2)                          as items_subtotal,
        orders.discount_amount,
        orders.shipping_amount,
        (items_per_order.items_subtotal
            - orders.discount_amount + orders.shipping_amount)::numeric(12, 2)  as order_total,
        items_per_order.item_count::integer                                     as item_count,
        -- timestamps and dates
        orders.ordered_at,
        (orders.ordered_at at time zone 'UTC')::date                            as order_date,
        orders.loaded_at
    from orders
    inner join items_per_order on orders.order_id = items_per_order.order_id
)

select * from priced
