{#-
  SCD type 2 history of valid customers: a new version whenever a tracked column changes. A customer
  whose latest version breaks a rule has its current version closed (the pre_hook); a later valid
  version opens a new one.
  Each run compares only the customers of the staging batches after the newest batch the snapshot holds
  (`batch_id`, not tracked), not every customer: untouched customers cannot have changed.
-#}
{% snapshot snap_customers %}
{{
    config(
        unique_key='customer_id',
        strategy='check',
        check_cols=['email', 'first_name', 'last_name', 'country_code', 'city'],
        hard_deletes='ignore',
        pre_hook="{{ close_invalidated_versions(ref('stg_shop__customers')) }}",
    )
}}

select
    customer_id,
    email,
    first_name,
    last_name,
    country_code,
    city,
    updated_at,
    batch_id
from {{ ref('stg_shop__customers') }}
where is_valid
    and batch_id > {{ relation_watermark(this, 'batch_id') }}

{% endsnapshot %}
