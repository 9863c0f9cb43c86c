-- One row per trace of {{ app_id }}: the day's spans grouped by trace_id, assembled
-- into a span tree and summarized by a signature of that tree.
WITH traces AS (
  SELECT
    submission_date,
    trace_id,
    MIN(submission_timestamp) AS submission_timestamp,
    MIN(start_time_unix_nano) AS start_time_unix_nano,
    MAX(end_time_unix_nano) AS end_time_unix_nano,
    MAX(end_time_unix_nano) - MIN(start_time_unix_nano) AS duration_nano,
    COUNT(*) AS span_count,
    mozfun.gecko_trace.build_root_span(
      ARRAY_AGG(
        TO_JSON(
          STRUCT(
            span_id,
            parent_span_id,
            name,
            start_time_unix_nano,
            end_time_unix_nano,
            events,
            resource,
            scope
          )
        )
        ORDER BY
          start_time_unix_nano,
          span_id
      )
    ) AS root_span
  FROM
    `{{ target_project }}.{{ app_id }}_derived.gecko_trace_spans_v1`
  WHERE
    submission_date = @submission_date
    AND trace_id IS NOT NULL
  GROUP BY
    submission_date,
    trace_id
)
SELECT
  submission_date,
  trace_id,
  submission_timestamp,
  start_time_unix_nano,
  end_time_unix_nano,
  duration_nano,
  span_count,
  root_span,
  mozfun.gecko_trace.calculate_signature(root_span) AS signature
FROM
  traces