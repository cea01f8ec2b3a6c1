with source as (
    select * from {{ source('shop', 'customers') }}
),

cleaned as (
    select
        -- ids
        trim(customer_id)                           as customer_id,
        -- strings
        lower(trim(email))                          as email,
        trim(first_name)                            as first_name,
        trim(last_name)                             as last_name,
        upper(trim(country))                        as country_code,
        trim(city)                                  as city,
        -- timestamps
        {{ try_timestamptz('created_at') }}         as created_at,
        {{ try_timestamptz('updated_at') }}         as updated_at,
        _loaded_at                                  as loaded_at,
        _batch_id                                   as batch_id
    from source
    where nullif(trim(customer_id), '') is not null
),

deduplicated as (
    select distinct on (customer_id) *
    from cleaned
    order by customer_id, updated_at desc nulls last, loaded_at desc, batch_id desc
)

select * from deduplicated
