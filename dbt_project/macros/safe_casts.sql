{#-
  Casts that turn an invalid source value into null instead of failing the model: staging keeps the
  raw value next to the typed one and flags the difference. Created by on-run-start; the advisory lock
  lets parallel dbt invocations (one per Cosmos task) run it at once.
-#}
{% macro create_safe_cast_functions() %}
do $outer$
begin
    perform pg_advisory_xact_lock(hashtext('shop.safe_casts'));
    create or replace function {{ target.schema }}.try_timestamptz(value text) returns timestamptz
    language plpgsql immutable as $fn$
    begin
        -- ISO 8601 without an offset is UTC (contract), whatever the session's time zone.
        if value ~ '(Z|[+-]\d{2}(:?\d{2})?)$' then
            return value::timestamptz;
        end if;
        return value::timestamp at time zone 'UTC';
    exception when others then
        return null;
    end $fn$;

    create or replace function {{ target.schema }}.try_numeric(value text) returns numeric
    language plpgsql immutable as $fn$
    begin
        return trim(value)::numeric;
    exception when others then
        return null;
    end $fn$;
end
$outer$;
{% endmacro %}

{% macro try_timestamptz(expression) -%}
    {{ target.schema }}.try_timestamptz({{ expression }})
{%- endmacro %}

{% macro try_numeric(expression) -%}
    {{ target.schema }}.try_numeric({{ expression }})
{%- endmacro %}
