with source as (
    select * from {{ source('shop', 'order_items') }}
),

cleaned as (
    select
        -- ids
        trim(order_id)                                      as order_id,
        {{ try_numeric('line_number') }}::integer           as line_number,
        trim(product_id)                                    as product_id,
        -- numerics
        {{ try_numeric('quantity') }}::integer              as quantity,
        {{ try_numeric('unit_price') }}::numeric(12, 2)     as unit_price,
        -- timestamps
        _loaded_at                                          as loaded_at,
        _batch_id                                           as batch_id
    from source
    where nullif(trim(order_id), '') is not null
),

deduplicated as (
    -- Items carry no updated_at: the latest load of a line wins.
    select distinct on (order_id, line_number) *
    from cleaned
    where line_number is not null
    order by order_id, line_number, loaded_at desc, batch_id desc
)

select
    order_id || '-' || line_number as order_item_id,
    *
from deduplicated
