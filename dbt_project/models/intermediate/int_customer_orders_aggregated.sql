{#- Per customer, what their valid orders add up to (lifetime value counts revenue orders only). -#}
with orders as (
    select * from {{ ref('int_orders_priced') }}
    where order_state = 'valid'
),

aggregated as (
    select
        customer_id,
        count(*)::integer                                           as order_count,
        (count(*) filter (where is_revenue))::integer               as revenue_order_count,
        coalesce(sum(order_total) filter (where is_revenue), 0)::numeric(12, 2) as lifetime_value,
        min(ordered_at)                                             as first_ordered_at,
        max(ordered_at)                                             as last_ordered_at
    from orders
    group by customer_id
)

select * from aggregated
