{#-
  Per customer with at least one valid order: first/last order, order count, lifetime value and the RFM
  segment dim_customers keeps (macros/rfm.sql). Recency counts days to the latest order date in the
  warehouse (not today), so the figures of a given dataset do not drift with the clock. A view: the
  recency moves for every customer each day, the scores only for the few a day changes.
-#}
with customers as (
    select * from {{ ref('dim_customers') }}
    where order_count > 0
),

as_of as (
    select max(order_date) as as_of_date from {{ ref('fct_orders') }}
),

final as (
    select
        -- ids
        customers.customer_id,
        -- strings
        customers.rfm_segment,
        customers.rfm_cell,
        -- numerics
        customers.order_count,
        customers.revenue_order_count,
        customers.lifetime_value,
        (as_of.as_of_date - (customers.last_ordered_at at time zone 'UTC')::date)  as recency_days,
        customers.recency_score,
        customers.frequency_score,
        customers.monetary_score,
        -- timestamps
        customers.first_ordered_at,
        customers.last_ordered_at
    from customers
    cross join as_of
)

select * from final
