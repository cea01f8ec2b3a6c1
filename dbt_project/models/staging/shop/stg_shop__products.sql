with source as (
    select * from {{ source('shop', 'products') }}
),

cleaned as (
    select
        -- ids
        trim(product_id)                                    as product_id,
        trim(sku)                                           as sku,
        -- strings
        trim(name)                                          as product_name,
        lower(trim(category))                               as category,
        -- numerics
        {{ try_numeric('unit_price') }}::numeric(12, 2)     as unit_price,
        -- booleans
        lower(trim(is_active)) in ('true', '1')             as is_active,
        -- timestamps
        {{ try_timestamptz('created_at') }}                 as created_at,
        {{ try_timestamptz('updated_at') }}                 as updated_at,
        _loaded_at                                          as loaded_at,
        _batch_id                                           as batch_id
    from source
    where nullif(trim(product_id), '') is not null
),

deduplicated as (
    select distinct on (product_id) *
    from cleaned
    order by product_id, updated_at desc nulls last, loaded_at desc, batch_id desc
)

select * from deduplicated
