{#- One row per valid web session (latest version). Incremental on sessions loaded in a new batch; a
    session whose new version broke a rule is deleted first. Sessions are not held back: a session's
    customer or order may arrive later (or be quarantined). -#}
{{
    config(
        unique_key='session_id',
        pre_hook="{{ delete_invalidated('session_id', ref('int_sessions_timed'), 'is_valid', 'batch_id') }}",
    )
}}

with sessions as (
    select * from {{ ref('int_sessions_timed') }}
    where is_valid
        {% if is_incremental() %}
        and batch_id > {{ watermark('batch_id') }}
        {% endif %}
),

final as (
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
        duration_seconds,
        -- booleans
        is_anonymous,
        is_converted,
        -- timestamps and dates
        started_at,
        ended_at,
        session_date,
        loaded_at,
        -- lineage
        batch_id
    from sessions
)

select * from final
