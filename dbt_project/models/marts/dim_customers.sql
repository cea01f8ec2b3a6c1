{#- Current view of every valid customer, with what their orders add up to. History: dim_customers_history.
    Incremental: the customers with a newer version, or whose orders changed, are rebuilt; a customer
    whose newer version broke a rule is deleted first. The country names come from a seed: after the seed
    changes, a full refresh. -#}
{{
    config(
        unique_key='customer_id',
        pre_hook="{{ delete_invalidated('customer_id', ref('stg_shop__customers'), 'upstream.is_valid', 'input_batch_id', 'batch_id') }}",
    )
}}

-- depends_on: {{ ref('int_orders_priced') }}
{% if is_incremental() %}
{%- set seen = watermark('input_batch_id') %}
with changed as (
    select customer_id from {{ ref('stg_shop__customers') }}
    where batch_id > {{ seen }}
    union
    {{ customers_of_changed_orders(seen) }}
),

customers as (
    select stg.*
    from {{ ref('stg_shop__customers') }} as stg
    inner join changed on stg.customer_id = changed.customer_id
    where stg.is_valid
),
{% else %}
with customers as (
    select * from {{ ref('stg_shop__customers') }}
    where is_valid
),
{% endif %}

countries as (
    -- the seed has a row per lookup key; its alpha_2 row is the one per country
    select
        country_code,
        country_name
    from {{ ref('country_codes') }}
    where key_type = 'alpha_2'
),

order_totals as (
    select * from {{ ref('int_customer_orders_aggregated') }}
),

final as (
    select
        -- ids
        customers.customer_id,
        -- strings
        customers.email,
        customers.first_name,
        customers.last_name,
        customers.country_code,
        countries.country_name,
        customers.city,
        -- numerics
        coalesce(order_totals.order_count, 0)                           as order_count,
        coalesce(order_totals.lifetime_value, 0)::numeric(12, 2)        as lifetime_value,
        -- timestamps
        customers.created_at,
        customers.updated_at,
        order_totals.first_ordered_at,
        order_totals.last_ordered_at,
        customers.loaded_at,
        -- lineage
        greatest(customers.batch_id, order_totals.input_batch_id)      as input_batch_id
    from customers
    left join countries on customers.country_code = countries.country_code
    left join order_totals on customers.customer_id = order_totals.customer_id
)

select * from final
