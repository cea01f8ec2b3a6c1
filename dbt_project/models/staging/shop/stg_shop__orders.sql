{{
    config(
        unique_key='order_id',
        indexes=[{'columns': ['order_id'], 'unique': true}, {'columns': ['batch_id']}],
    )
}}

with source as (
    select * from {{ source('shop', 'orders') }}
    {{ after_watermark('_batch_id', 'batch_id') }}
),

parsed as (
    -- each value parsed once: `offset 0` keeps the planner from copying the casts into every use
    select
        source.*,
        {{ try_numeric('shipping_amount') }}   as shipping_amount_parsed,
        {{ try_numeric('discount_amount') }}   as discount_amount_parsed,
        {{ try_timestamptz('ordered_at') }}    as ordered_at_parsed,
        {{ try_timestamptz('updated_at') }}    as updated_at_parsed
    from source
    where nullif(trim(source.order_id), '') is not null
    offset 0  -- noqa: AM09
),

cleaned as (
    select
        -- ids
        trim(order_id)                                              as order_id,
        nullif(trim(customer_id), '')                               as customer_id,
        -- strings
        nullif(lower(trim(status)), '')                             as status,
        nullif(lower(trim(payment_method)), '')                     as payment_method,
        -- numerics (an amount not sent is zero)
        coalesce(shipping_amount_parsed, 0)::numeric(12, 2)         as shipping_amount,
        coalesce(discount_amount_parsed, 0)::numeric(12, 2)         as discount_amount,
        -- timestamps
        ordered_at_parsed                                           as ordered_at,
        updated_at_parsed                                           as updated_at,
        -- validation flags
        (
            {{ missing('customer_id') }} or {{ missing('status') }} or {{ missing('ordered_at') }}
        )                                                           as has_missing_value,
        (
            (
                not {{ missing('status') }}
                and lower(trim(status)) not in {{ quoted_list(var('order_statuses')) }}
            )
            or {{ unparsable('shipping_amount', 'shipping_amount_parsed') }}
            or {{ unparsable('discount_amount', 'discount_amount_parsed') }}
            or {{ unparsable('ordered_at', 'ordered_at_parsed') }}
            or {{ unparsable('updated_at', 'updated_at_parsed') }}
        )                                                           as has_invalid_value,
        (
            coalesce(shipping_amount_parsed < 0, false)
            or coalesce(discount_amount_parsed < 0, false)
        )                                                           as has_negative_amount,
        coalesce(
            greatest(ordered_at_parsed, updated_at_parsed)
            > _loaded_at + interval '{{ var("future_tolerance") }}',
            false
        )                                                           as has_future_timestamp,
        -- lineage
        _loaded_at                                                  as loaded_at,
        _batch_id                                                   as batch_id
    from parsed
),

validated as (
    select
        *,
        not (  -- noqa: LT01, LT06
            has_missing_value or has_invalid_value or has_negative_amount or has_future_timestamp
        ) as is_valid
    from cleaned
),

deduplicated as (
    {{ latest_per_key(
        'validated', ['order_id'], 'updated_at desc nulls last, loaded_at desc, batch_id desc'
    ) }}
)

select * from deduplicated
