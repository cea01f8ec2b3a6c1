{#- Contract rule: a record that breaks a rule (or is held back) never reaches the marts. On an incremental
    build, the fact rows it wrote (macros/test_scope.sql). -#}
select
    'fct_orders' as mart,
    orders.order_id as record_key
from {{ rows_written(ref('fct_orders')) }} as orders
inner join {{ ref('rpt_quarantined_records') }} as quarantined
    on orders.order_id = quarantined.record_key and quarantined.entity = 'orders'
union all
select
    'fct_order_items' as mart,
    items.order_item_id as record_key
from {{ rows_written(ref('fct_order_items')) }} as items
inner join {{ ref('rpt_quarantined_records') }} as quarantined
    on items.order_item_id = quarantined.record_key and quarantined.entity = 'order_items'
union all
select
    'fct_sessions' as mart,
    sessions.session_id as record_key
from {{ rows_written(ref('fct_sessions')) }} as sessions
inner join {{ ref('rpt_quarantined_records') }} as quarantined
    on sessions.session_id = quarantined.record_key and quarantined.entity = 'sessions'
