{#-
  SCD type 2 history of valid customers: a new version whenever a tracked column changes. A customer
  whose latest version breaks a rule leaves the query, and its current version is closed (invalidate);
  a later valid version opens a new one.
-#}
{% snapshot snap_customers %}
{{
    config(
        unique_key='customer_id',
        strategy='check',
        check_cols=['email', 'first_name', 'last_name', 'country_code', 'city'],
        hard_deletes='invalidate',
    )
}}

select
    customer_id,
    email,
    first_name,
    last_name,
    country_code,
    city,
    updated_at
from {{ ref('stg_shop__customers') }}
where is_valid

{% endsnapshot %}
