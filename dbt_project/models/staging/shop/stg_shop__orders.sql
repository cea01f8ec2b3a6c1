with source as (
    select * from {{ source('shop', 'orders') }}
),

cleaned as (
    select
        -- ids
        trim(order_id)                                          as order_id,
        trim(customer_id)                                       as customer_id,
        -- strings
        lower(trim(status))                                     as status,
        lower(trim(payment_method))                             as payment_method,
        -- numerics
        {{ try_numeric('shipping_amount') }}::numeric(12, 2)    as shipping_amount,
        {{ try_numeric('discount_amount') }}::numeric(12, 2)    as discount_amount,
        -- timestamps
        {{ try_timestamptz('ordered_at') }}                     as ordered_at,
        {{ try_timestamptz('updated_at') }}                     as updated_at,
        _loaded_at                                              as loaded_at,
        _batch_id                                               as batch_id
    from source
    where nullif(trim(order_id), '') is not null
),

deduplicated as (
    select distinct on (order_id) *
    from cleaned
    order by order_id, updated_at desc nulls last, loaded_at desc, batch_id desc
)

select * from deduplicated
