{#- Nothing is lost: every staged order is in fct_orders or in rpt_quarantined_records. On an incremental
    build, the staged orders it read (macros/test_scope.sql). -#}
with quarantined as (
    select distinct record_key from {{ ref('rpt_quarantined_records') }}
    where entity = 'orders'
)

select staged.order_id
from {{ rows_written(ref('stg_shop__orders')) }} as staged
left join {{ ref('fct_orders') }} as orders on staged.order_id = orders.order_id
left join quarantined on staged.order_id = quarantined.record_key
where orders.order_id is null and quarantined.record_key is null
