-- Per day and signature of {{ app_id }}: how many traces had that signature and
-- their average duration.
SELECT
  submission_date,
  signature,
  AVG(duration_nano) AS average_duration_nano,
  COUNT(*) AS hits
FROM
  `{{ target_project }}.{{ app_id }}_derived.gecko_trace_traces_v1`
WHERE
  submission_date = @submission_date
  AND signature IS NOT NULL
GROUP BY
  submission_date,
  signature