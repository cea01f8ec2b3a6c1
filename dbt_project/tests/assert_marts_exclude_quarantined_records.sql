{#- Contract rule: a record that breaks a rule (or is held back) never reaches the marts. -#}
select 'fct_orders' as mart, orders.order_id as record_key
from {{ ref('fct_orders') }} as orders
inner join {{ ref('rpt_quarantined_records') }} as quarantined
    on quarantined.entity = 'orders' and quarantined.record_key = orders.order_id
union all
select 'fct_order_items', items.order_item_id
from {{ ref('fct_order_items') }} as items
inner join {{ ref('rpt_quarantined_records') }} as quarantined
    on quarantined.entity = 'order_items' and quarantined.record_key = items.order_item_id
union all
select 'fct_sessions', sessions.session_id
from {{ ref('fct_sessions') }} as sessions
inner join {{ ref('rpt_quarantined_records') }} as quarantined
    on quarantined.entity = 'sessions' and quarantined.record_key = sessions.session_id
