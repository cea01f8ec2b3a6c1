{#-
  Per customer with at least one valid order, what the valid orders add up to (lifetime value counts
  revenue orders only). Incremental: the customers whose orders changed since the last run (the ones
  the changed orders name now or named before) are deleted first and recomputed from their orders.
-#}
{{
    config(
        unique_key='customer_id',
        pre_hook="{{ delete_customers_of_changed_orders() }}",
    )
}}

with orders as (
    select * from {{ ref('int_orders_priced') }}
    where order_state = 'valid'
        {% if is_incremental() %}
        and customer_id in ({{ customers_of_changed_orders(watermark('input_batch_id')) }})
        {% endif %}
),

aggregated as (
    select
        customer_id,
        count(*)::integer                                           as order_count,
        (count(*) filter (where is_revenue))::integer               as revenue_order_count,
        coalesce(sum(order_total) filter (where is_revenue), 0)::numeric(12, 2) as lifetime_value,
        min(ordered_at)                                             as first_ordered_at,
        max(ordered_at)                                             as last_ordered_at,
        max(input_batch_id)                                         as input_batch_id
    from orders
    group by customer_id
)

select * from aggregated
