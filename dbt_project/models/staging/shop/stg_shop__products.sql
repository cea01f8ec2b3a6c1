{{
    config(
        unique_key='product_id',
        indexes=[{'columns': ['product_id'], 'unique': true}, {'columns': ['batch_id']}],
    )
}}

with source as (
    select * from {{ source('shop', 'products') }}
    {{ after_watermark('_batch_id', 'batch_id') }}
),

parsed as (
    -- each value parsed once: `offset 0` keeps the planner from copying the casts into every use
    select
        source.*,
        {{ try_numeric('unit_price') }}        as unit_price_parsed,
        {{ try_timestamptz('created_at') }}    as created_at_parsed,
        {{ try_timestamptz('updated_at') }}    as updated_at_parsed,
        case lower(trim(source.is_active))
            when 'true' then true when '1' then true
            when 'false' then false when '0' then false
        end                                     as is_active_parsed
    from source
    where nullif(trim(source.product_id), '') is not null
    offset 0  -- noqa: AM09
),

cleaned as (
    select
        -- ids
        trim(product_id)                                as product_id,
        nullif(trim(sku), '')                           as sku,
        -- strings
        nullif(trim(name), '')                          as product_name,
        nullif(lower(trim(category)), '')               as category,
        -- numerics
        unit_price_parsed::numeric(12, 2)               as unit_price,
        -- booleans
        is_active_parsed                                as is_active,
        -- timestamps
        created_at_parsed                               as created_at,
        updated_at_parsed                               as updated_at,
        -- validation flags
        ({{ missing('name') }} or {{ missing('unit_price') }})     as has_missing_value,
        (
            {{ unparsable('unit_price', 'unit_price_parsed') }}
            or {{ unparsable('is_active', 'is_active_parsed') }}
            or {{ unparsable('created_at', 'created_at_parsed') }}
            or {{ unparsable('updated_at', 'updated_at_parsed') }}
        )                                               as has_invalid_value,
        coalesce(unit_price_parsed <= 0, false)         as has_nonpositive_unit_price,
        -- lineage
        _loaded_at                                      as loaded_at,
        _batch_id                                       as batch_id
    from parsed
),

validated as (
    select
        *,
        not (  -- noqa: LT01, LT06
            has_missing_value or has_invalid_value or has_nonpositive_unit_price
        ) as is_valid
    from cleaned
),

deduplicated as (
    {{ latest_per_key(
        'validated', ['product_id'], 'updated_at desc nulls last, loaded_at desc, batch_id desc'
    ) }}
)

select * from deduplicated
