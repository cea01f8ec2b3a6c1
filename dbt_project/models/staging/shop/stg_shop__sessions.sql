{{
    config(
        unique_key='session_id',
        indexes=[{'columns': ['session_id'], 'unique': true}, {'columns': ['batch_id']}],
    )
}}

with source as (
    select * from {{ source('shop', 'sessions') }}
    {{ after_watermark('_batch_id', 'batch_id') }}
),

parsed as (
    -- each value parsed once: `offset 0` keeps the planner from copying the casts into every use
    select
        source.*,
        {{ try_numeric('page_views') }}        as page_views_parsed,
        {{ try_timestamptz('started_at') }}    as started_at_parsed,
        {{ try_timestamptz('ended_at') }}      as ended_at_parsed
    from source
    where nullif(trim(source.session_id), '') is not null
    offset 0  -- noqa: AM09
),

cleaned as (
    select
        -- ids
        trim(session_id)                                    as session_id,
        nullif(trim(customer_id), '')                       as customer_id,
        nullif(trim(order_id), '')                          as order_id,
        -- strings
        nullif(lower(trim(device)), '')                     as device,
        nullif(lower(trim(channel)), '')                    as channel,
        -- numerics
        page_views_parsed::integer                          as page_views,
        -- timestamps
        started_at_parsed                                   as started_at,
        ended_at_parsed                                     as ended_at,
        -- validation flags
        ({{ missing('started_at') }} or {{ missing('device') }})   as has_missing_value,
        (
            {{ unparsable('page_views', 'page_views_parsed') }}
            or {{ unparsable('started_at', 'started_at_parsed') }}
            or {{ unparsable('ended_at', 'ended_at_parsed') }}
        )                                                   as has_invalid_value,
        coalesce(ended_at_parsed < started_at_parsed, false)       as has_ended_before_started,
        coalesce(
            greatest(started_at_parsed, ended_at_parsed)
            > _loaded_at + interval '{{ var("future_tolerance") }}',
            false
        )                                                   as has_future_timestamp,
        -- lineage
        _loaded_at                                          as loaded_at,
        _batch_id                                           as batch_id
    from parsed
),

validated as (
    select
        *,
        not (  -- noqa: LT01, LT06
            has_missing_value or has_invalid_value or has_ended_before_started or has_future_timestamp
        ) as is_valid
    from cleaned
),

deduplicated as (
    -- Sessions carry no updated_at: the latest load of a session wins.
    {{ latest_per_key('validated', ['session_id'], 'loaded_at desc, batch_id desc') }}
)

select * from deduplicated
