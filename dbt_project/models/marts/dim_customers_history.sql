{#- Every version of every valid customer (SCD type 2) from the snapshot snap_customers. -#}
with snapshot as (
    select * from {{ ref('snap_customers') }}
),

final as (
    select
        -- ids
        dbt_scd_id                          as customer_version_id,
        customer_id,
        -- strings
        email,
        first_name,
        last_name,
        country_code,
        city,
        -- booleans
        dbt_valid_to is null                as is_current,
        -- timestamps
        dbt_valid_from                      as valid_from,
        dbt_valid_to                        as valid_to,
        updated_at
    from snapshot
)

select * from final
