{#- Contract rule: a day's net revenue is the total of its paid, shipped and delivered orders; counted
    here straight from fct_orders' statuses, not from its is_revenue flag. -#}
with expected as (
    select
        order_date,
        count(*) as order_count,
        coalesce(
            sum(order_total) filter (where status in {{ quoted_list(var('revenue_statuses')) }}), 0
        ) as net_revenue
    from {{ ref('fct_orders') }}
    group by order_date
)

select
    coalesce(expected.order_date, report.order_date) as order_date,
    expected.net_revenue as expected_net_revenue,
    report.net_revenue as reported_net_revenue
from expected
full outer join {{ ref('rpt_daily_revenue') }} as report on expected.order_date = report.order_date
where expected.net_revenue is distinct from report.net_revenue
    or expected.order_count is distinct from report.order_count
