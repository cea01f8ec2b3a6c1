{#-
  Every record the marts leave out, one row per rule it breaks (a record can break several), plus the
  orders held back until their customer or product arrives (`disposition` = held). The record as parsed
  is kept in `record`; its raw rows are in raw.<entity> (batch_id). Nothing is lost.
-#}
{%- set flagged = [
    ('customers', 'stg_shop__customers', 'customer_id',
        ['missing_value', 'invalid_value', 'malformed_email']),
    ('products', 'stg_shop__products', 'product_id',
        ['missing_value', 'invalid_value', 'nonpositive_unit_price']),
    ('orders', 'stg_shop__orders', 'order_id',
        ['missing_value', 'invalid_value', 'negative_amount', 'future_timestamp']),
    ('order_items', 'stg_shop__order_items', 'order_item_id',
        ['missing_value', 'invalid_value', 'nonpositive_quantity', 'nonpositive_unit_price']),
    ('sessions', 'stg_shop__sessions', 'session_id',
        ['missing_value', 'invalid_value', 'ended_before_started', 'future_timestamp']),
] -%}

with
{% for entity, model, key, rules in flagged %}
{{ entity }}_broken as (
    select
        '{{ entity }}'::text                    as entity,
        staged.{{ key }}::text                  as record_key,
        rule.rule_name,
        'quarantined'::text                     as disposition,
        staged.batch_id,
        staged.loaded_at,
        to_jsonb(staged)                        as record
    from {{ ref(model) }} as staged
    cross join
        lateral (
            values
            {%- for rule in rules %}
            ('{{ rule }}', staged.has_{{ rule }}){{ "," if not loop.last }}
            {%- endfor %}
        ) as rule (rule_name, is_broken)
    where not staged.is_valid and rule.is_broken
),
{% endfor %}

orders_decided as (
    select
        'orders'::text                          as entity,
        priced.order_id::text                   as record_key,
        rule.rule_name,
        rule.disposition,
        priced.input_batch_id                   as batch_id,
        priced.loaded_at,
        to_jsonb(priced)                        as record
    from {{ ref('int_orders_priced') }} as priced
    cross join
        lateral (
            values
            ('no_items', 'quarantined', not priced.has_items),
            ('rejected_item', 'quarantined', priced.has_rejected_item),
            ('customer_not_arrived', 'held', priced.order_state = 'held' and not priced.is_customer_known),
            ('product_not_arrived', 'held', priced.order_state = 'held' and not priced.are_products_known)
        ) as rule (rule_name, disposition, is_broken)
    where priced.order_state <> 'valid' and rule.is_broken
),

unioned as (
    {% for entity, model, key, rules in flagged %}
    select * from {{ entity }}_broken
    union all
    {% endfor %}
    select * from orders_decided
)

select
    -- ids
    entity || ':' || record_key || ':' || rule_name     as quarantine_id,
    entity,
    record_key,
    -- strings
    rule_name,
    disposition,
    record,
    -- timestamps
    loaded_at,
    -- lineage
    batch_id
from unioned
