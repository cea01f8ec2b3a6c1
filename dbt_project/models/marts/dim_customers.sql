{#- Current view of every valid customer, with what their orders add up to and their RFM scores
    (macros/rfm.sql). History: dim_customers_history.
    Incremental: the customers with a newer version, or whose orders changed, are rebuilt, and the ones a
    moved quintile boundary rescores; a customer whose newer version broke a rule is deleted first. The
    country names come from a seed: after the seed changes, a full refresh. -#}
{{
    config(
        unique_key='customer_id',
        pre_hook="{{ delete_invalidated('customer_id', ref('stg_shop__customers'), 'upstream.is_valid', 'input_batch_id', 'batch_id') }}",
    )
}}

-- depends_on: {{ ref('int_orders_priced') }}
with boundaries as (
    {{ rfm_boundaries(ref('int_customer_orders_aggregated')) }}
),

{% if is_incremental() %}
{%- set seen = watermark('input_batch_id') %}
changed as (
    select customer_id from {{ ref('stg_shop__customers') }}
    where batch_id > {{ seen }}
    union
    {{ customers_of_changed_orders(seen) }}
    union
    -- the customers a boundary moved past: their scores change though nothing of theirs did
    select kept.customer_id
    from {{ this }} as kept
    cross join boundaries
    where kept.last_ordered_at is not null
    {%- if has_column(this, 'recency_score') %}
    and (kept.recency_score, kept.frequency_score, kept.monetary_score) is distinct from (
        {{ rfm_score('kept.last_ordered_at', 'boundaries.recency') }},
        {{ rfm_score('kept.order_count', 'boundaries.frequency') }},
        {{ rfm_score('kept.lifetime_value', 'boundaries.monetary') }}
    )
    {%- endif %}
),

customers as (
    select stg.*
    from {{ ref('stg_shop__customers') }} as stg
    inner join changed on stg.customer_id = changed.customer_id
    where stg.is_valid
),
{% else %}
customers as (
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

scored as (
    select
        order_totals.*,
        {{ rfm_score('order_totals.last_ordered_at', 'boundaries.recency') }}  as recency_score,
        {{ rfm_score('order_totals.order_count', 'boundaries.frequency') }}    as frequency_score,
        {{ rfm_score('order_totals.lifetime_value', 'boundaries.monetary') }}  as monetary_score
    from order_totals
    cross join boundaries
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
        {{ rfm_segment('scored.recency_score', 'scored.frequency_score', 'scored.monetary_score') }}
            as rfm_segment,
        scored.recency_score::text || scored.frequency_score::text || scored.monetary_score::text as rfm_cell,
        -- numerics
        coalesce(scored.order_count, 0)                                 as order_count,
        coalesce(scored.revenue_order_count, 0)                         as revenue_order_count,
        coalesce(scored.lifetime_value, 0)::numeric(12, 2)              as lifetime_value,
        scored.recency_score,
        scored.frequency_score,
        scored.monetary_score,
        -- timestamps
        customers.created_at,
        customers.updated_at,
        scored.first_ordered_at,
        scored.last_ordered_at,
        customers.loaded_at,
        -- lineage
        greatest(customers.batch_id, scored.input_batch_id)            as input_batch_id
    from customers
    left join countries on customers.country_code = countries.country_code
    left join scored on customers.customer_id = scored.customer_id
)

select * from final
