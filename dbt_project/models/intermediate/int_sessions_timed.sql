{#- Sessions (latest version) with their duration and what they led to. -#}
with sessions as (
    select * from {{ ref('stg_shop__sessions') }}
),

timed as (
    select
        -- ids
        session_id,
        customer_id,
        order_id,
        -- strings
        device,
        channel,
        -- numerics
        page_views,
        extract(epoch from ended_at - started_at)::integer  as duration_seconds,
        -- booleans
        customer_id is null                                 as is_anonymous,
        order_id is not null                                as is_converted,
        is_valid,
        -- timestamps and dates
        started_at,
        ended_at,
        (started_at at time zone 'UTC')::date               as session_date,
        loaded_at,
        -- lineage
        batch_id
    from sessions
)

select * from timed
