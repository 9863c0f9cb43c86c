-- One row per span of the day's Gecko Trace pings from {{ app_id }}: the OTLP
-- TracesData of each ping (resource_spans[].scope_spans[].spans[]) flattened.
WITH pings AS (
  SELECT
    submission_timestamp,
    document_id,
    metrics.object.gecko_trace_traces_data AS traces_data
  FROM
    `{{ target_project }}.{{ app_id }}.{{ ping_name }}`
  WHERE
    DATE(submission_timestamp) = @submission_date
    AND metrics.object.gecko_trace_traces_data IS NOT NULL
)
SELECT
  DATE(pings.submission_timestamp) AS submission_date,
  pings.submission_timestamp,
  pings.document_id,
  JSON_VALUE(span, '$.trace_id') AS trace_id,
  JSON_VALUE(span, '$.span_id') AS span_id,
  -- A root span has no parent: an absent or empty parent_span_id becomes NULL.
  NULLIF(JSON_VALUE(span, '$.parent_span_id'), '') AS parent_span_id,
  JSON_VALUE(span, '$.name') AS name,
  -- OTLP JSON encodes 64-bit integers as numbers or as numeric strings.
  SAFE_CAST(JSON_VALUE(span, '$.start_time_unix_nano') AS INT64) AS start_time_unix_nano,
  SAFE_CAST(JSON_VALUE(span, '$.end_time_unix_nano') AS INT64) AS end_time_unix_nano,
  JSON_QUERY(span, '$.events') AS events,
  JSON_QUERY(resource_span, '$.resource') AS resource,
  JSON_QUERY(scope_span, '$.scope') AS scope
FROM
  pings,
  UNNEST(JSON_QUERY_ARRAY(pings.traces_data, '$.resource_spans')) AS resource_span,
  UNNEST(JSON_QUERY_ARRAY(resource_span, '$.scope_spans')) AS scope_span,
  UNNEST(JSON_QUERY_ARRAY(scope_span, '$.spans')) AS span