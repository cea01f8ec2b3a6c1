{#- Every valid product (current version) with its category's classification from the seed. -#}
with products as (
    select * from {{ ref('stg_shop__products') }}
    where is_valid
),

categories as (
    select * from {{ ref('product_categories') }}
),

final as (
    select
        -- ids
        products.product_id,
        products.sku,
        -- strings
        products.product_name,
        products.category,
        coalesce(categories.category_name, 'Unclassified')     as category_name,
        coalesce(categories.department, 'Unclassified')        as department,
        -- numerics
        products.unit_price,
        -- booleans
        products.is_active,
        coalesce(categories.is_consumable, false)              as is_consumable,
        -- timestamps
        products.created_at,
        products.updated_at,
        products.loaded_at
    from products
    left join categories on products.category = categories.category
)

select * from final
