{#- Daily net revenue by order date (UTC), per the contract: valid orders whose latest status is paid,
    shipped or delivered count their total; placed is not revenue yet; cancelled and returned count 0. -#}
with orders as (
    select * from {{ ref('fct_orders') }}
),

daily as (
    select
        order_date,
        count(*)::integer                                           as order_count,
        (count(*) filter (where is_revenue))::integer               as revenue_order_count,
        sum(net_revenue)::numeric(12, 2)                            as net_revenue,
        max(loaded_at)                                              as loaded_at
    from orders
    group by order_date
)

select * from daily
