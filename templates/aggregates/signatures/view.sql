CREATE OR REPLACE VIEW
  `{{ target_project }}.gecko_trace_aggregates.signatures`
AS
{% for app_id in applications -%}
{% if not loop.first %}
UNION ALL
{% endif -%}
SELECT
  "{{ app_id }}" AS application,
  *
FROM
  `{{ target_project }}.{{ app_id }}_derived.gecko_trace_signatures_v1`
{%- endfor %}