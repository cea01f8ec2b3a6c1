{#- Contract rule: an order's total = Σ(quantity × unit_price) over its items − discount + shipping.
    Recomputed from fct_order_items, independently of how fct_orders priced it. -#}
select
    orders.order_id,
    orders.order_total,
    coalesce(sum(items.line_total), 0) - orders.discount_amount + orders.shipping_amount as expected_total
from {{ ref('fct_orders') }} as orders
left join {{ ref('fct_order_items') }} as items on orders.order_id = items.order_id
group by orders.order_id, orders.order_total, orders.discount_amount, orders.shipping_amount
having
    orders.order_total <> coalesce(sum(items.line_total), 0) - orders.discount_amount + orders.shipping_amount
    or count(items.order_item_id) = 0
