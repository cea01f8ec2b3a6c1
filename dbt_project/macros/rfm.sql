{#-
  RFM scores from quintile boundaries. The boundaries are the 20th, 40th, 60th and 80th percentiles of
  each measure over every customer with a valid order; a customer's score is 1 plus the boundaries
  their value is above (5 = most recent, most orders, highest value). Customers with equal values share
  a score, so a quintile a tie fills is skipped. Unlike a rank (ntile), a score changes only when the
  customer's value crosses a boundary: a day rescores the customers it changed and the few a boundary
  moved past, not everyone.
-#}

{#- One row: the boundaries of each measure, as arrays of four (`relation`: one row per customer). -#}
{% macro rfm_boundaries(relation) -%}
    select
        percentile_disc(array[0.2, 0.4, 0.6, 0.8]) within group (order by last_ordered_at) as recency,
        percentile_disc(array[0.2, 0.4, 0.6, 0.8]) within group (order by order_count)     as frequency,
        percentile_disc(array[0.2, 0.4, 0.6, 0.8]) within group (order by lifetime_value)  as monetary
    from {{ relation }}
{%- endmacro %}

{#- 1-5: one plus the boundaries in `bounds` (an array of four) that `value` is above; null when `value` is. -#}
{% macro rfm_score(value, bounds) -%}
    (1 {%- for i in range(1, 5) %} + ({{ value }} > {{ bounds }}[{{ i }}])::integer{% endfor %})
{%- endmacro %}

{#- The segment named by three scores (columns or expressions). -#}
{% macro rfm_segment(recency, frequency, monetary) -%}
    case
        when {{ recency }} is null then null
        when {{ recency }} >= 4 and {{ frequency }} >= 4 and {{ monetary }} >= 4 then 'champions'
        when {{ recency }} >= 3 and {{ frequency }} >= 3 then 'loyal'
        when {{ recency }} >= 4 and {{ frequency }} <= 2 then 'new'
        when {{ recency }} <= 2 and {{ frequency }} >= 3 then 'at_risk'
        when {{ recency }} <= 2 then 'hibernating'
        else 'promising'
    end
{%- endmacro %}
