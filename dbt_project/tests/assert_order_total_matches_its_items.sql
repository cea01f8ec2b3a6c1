{#- Contract rule: an order's total = Σ(quantity × unit_price) over its items − discount + shipping.
    Recomputed from fct_order_items, independently of how fct_orders priced it. On an incremental build,
    the orders it wrote (macros/test_scope.sql; a line is rewritten with its order), their lines by index. -#}
select
    orders.order_id,
    orders.order_total,
    coalesce(sum(items.line_total), 0) - orders.discount_amount + orders.shipping_amount as expected_total
from {{ rows_written(ref('fct_orders')) }} as orders
left join {{ ref('fct_order_items') }} as items on orders.order_id = items.order_id
group by orders.order_id, orders.order_total, orders.discount_amount, orders.shipping_amount
having
    orders.order_total <> coalesce(sum(items.line_total), 0) - orders.discount_amount + orders.shipping_amount
    or count(items.order_item_id) = 0
