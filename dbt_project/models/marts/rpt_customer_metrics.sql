{#-
  Per customer with at least one valid order: first/last order, order count, lifetime value and an RFM
  segment. Recency counts days to the latest order date in the warehouse (not today), so the segments
  of a given dataset do not drift with the clock. Scores are quintiles (5 = best).
-#}
with customers as (
    select * from {{ ref('int_customer_orders_aggregated') }}
),

as_of as (
    select max(order_date) as as_of_date from {{ ref('fct_orders') }}
),

scored as (
    select
        customers.*,
        (as_of.as_of_date - (customers.last_ordered_at at time zone 'UTC')::date)  as recency_days,
        ntile(5) over (order by customers.last_ordered_at)                          as recency_score,
        ntile(5) over (order by customers.order_count, customers.last_ordered_at)  as frequency_score,
        ntile(5) over (order by customers.lifetime_value, customers.order_count)   as monetary_score
    from customers
    cross join as_of
),

final as (
    select
        -- ids
        customer_id,
        -- strings
        case
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champions'
            when recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when recency_score >= 4 and frequency_score <= 2 then 'new'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when recency_score <= 2 then 'hibernating'
            else 'promising'
        end                                                             as rfm_segment,
        recency_score::text || frequency_score::text || monetary_score::text as rfm_cell,
        -- numerics
        order_count,
        revenue_order_count,
        lifetime_value,
        recency_days,
        recency_score::integer                                          as recency_score,
        frequency_score::integer                                        as frequency_score,
        monetary_score::integer                                         as monetary_score,
        -- timestamps
        first_ordered_at,
        last_ordered_at
    from scored
)

select * from final
