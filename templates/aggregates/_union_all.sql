{#- Included by every view ("_" files are never written): one SELECT per application's
    table, with a leading application column naming its source. -#}
{%- macro union_all(target_project, applications, table) -%}
{% for app_id in applications -%}
{% if not loop.first %}
UNION ALL
{% endif -%}
SELECT
  "{{ app_id }}" AS application,
  *
FROM
  `{{ target_project }}.{{ app_id }}_derived.{{ table }}`
{%- endfor %}
{%- endmacro %}
