{{
    config(
        unique_key=['order_id', 'line_number'],
        indexes=[{'columns': ['order_id', 'line_number'], 'unique': true}, {'columns': ['batch_id']}],
    )
}}

with source as (
    select * from {{ source('shop', 'order_items') }}
    {{ after_watermark('_batch_id', 'batch_id') }}
),

parsed as (
    -- each value parsed once: `offset 0` keeps the planner from copying the casts into every use
    select
        source.*,
        {{ try_numeric('line_number') }}   as line_number_parsed,
        {{ try_numeric('quantity') }}      as quantity_parsed,
        {{ try_numeric('unit_price') }}    as unit_price_parsed
    from source
    where nullif(trim(source.order_id), '') is not null
    offset 0  -- noqa: AM09
),

cleaned as (
    select
        -- ids
        trim(order_id) || '-' || line_number_parsed::integer       as order_item_id,
        trim(order_id)                                              as order_id,
        line_number_parsed::integer                                 as line_number,
        nullif(trim(product_id), '')                                as product_id,
        -- numerics
        quantity_parsed::integer                                    as quantity,
        unit_price_parsed::numeric(12, 2)                           as unit_price,
        -- validation flags
        (
            {{ missing('product_id') }} or {{ missing('quantity') }} or {{ missing('unit_price') }}
        )                                                           as has_missing_value,
        (
            {{ unparsable('quantity', 'quantity_parsed') }}
            or {{ unparsable('unit_price', 'unit_price_parsed') }}
            or coalesce(quantity_parsed <> trunc(quantity_parsed), false)
        )                                                           as has_invalid_value,
        coalesce(quantity_parsed <= 0, false)                       as has_nonpositive_quantity,
        coalesce(unit_price_parsed <= 0, false)                     as has_nonpositive_unit_price,
        -- lineage
        _loaded_at                                                  as loaded_at,
        _batch_id                                                   as batch_id
    from parsed
    -- a line without a usable line number has no key: it stays in raw (and is counted by GX)
    where line_number_parsed = trunc(line_number_parsed)
),

validated as (
    select
        *,
        not (  -- noqa: LT01, LT06
            has_missing_value or has_invalid_value or has_nonpositive_quantity or has_nonpositive_unit_price
        ) as is_valid
    from cleaned
),

deduplicated as (
    -- Items carry no updated_at: the latest load of a line wins.
    {{ latest_per_key('validated', ['order_id', 'line_number'], 'loaded_at desc, batch_id desc') }}
)

select * from deduplicated
