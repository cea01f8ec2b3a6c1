with source as (
    select * from {{ source('shop', 'sessions') }}
),

cleaned as (
    select
        -- ids
        trim(session_id)                                    as session_id,
        nullif(trim(customer_id), '')                       as customer_id,
        nullif(trim(order_id), '')                          as order_id,
        -- strings
        lower(trim(device))                                 as device,
        lower(trim(channel))                                as channel,
        -- numerics
        {{ try_numeric('page_views') }}::integer            as page_views,
        -- timestamps
        {{ try_timestamptz('started_at') }}                 as started_at,
        {{ try_timestamptz('ended_at') }}                   as ended_at,
        _loaded_at                                          as loaded_at,
        _batch_id                                           as batch_id
    from source
    where nullif(trim(session_id), '') is not null
),

deduplicated as (
    -- Sessions carry no updated_at: the latest load of a session wins.
    select distinct on (session_id) *
    from cleaned
    order by session_id, loaded_at desc, batch_id desc
)

select * from deduplicated
