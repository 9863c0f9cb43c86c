{% from "_union_all.sql" import union_all -%}
CREATE OR REPLACE VIEW
  `{{ target_project }}.gecko_trace_aggregates.signatures`
AS
{{ union_all(target_project, applications, "gecko_trace_signatures_v1") }}