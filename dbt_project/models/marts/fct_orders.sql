{#- One row per valid order, priced by the contract's rule (see int_orders_priced). Incremental on the
    orders re-decided since the last run; an order whose new version broke a rule is deleted first. -#}
{{
    config(
        unique_key='order_id',
        pre_hook="{{ delete_invalidated('order_id', ref('int_orders_priced'), \"order_state = 'valid'\", 'input_batch_id') }}",
    )
}}

with priced as (
    select * from {{ ref('int_orders_priced') }}
    where order_state = 'valid'
        {% if is_incremental() %}
        and input_batch_id > {{ watermark('input_batch_id') }}
        {% endif %}
),

final as (
    select
        -- ids
        order_id,
        customer_id,
        -- strings
        status,
        payment_method,
        -- numerics
        item_count,
        items_subtotal,
        discount_amount,
        shipping_amount,
        order_total,
        (case when is_revenue then order_total else 0 end)::numeric(12, 2)  as net_revenue,
        -- booleans
        is_revenue,
        -- timestamps and dates
        ordered_at,
        order_date,
        updated_at,
        loaded_at,
        -- lineage
        input_batch_id
    from priced
)

select * from final
