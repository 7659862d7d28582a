-- name: recent-runs
-- description: The runs of the last 7 days, newest first, with their counts and error rate.
SELECT
  execution_date,
  execution_name,
  status,
  total_rows,
  applied,
  failed,
  superseded,
  skipped,
  pending,
  error_rate,
  severity,
  duration_seconds,
  source_key
FROM run_summaries
WHERE execution_date >= CAST(CAST(current_date - INTERVAL '7' DAY AS date) AS varchar)
ORDER BY start_time DESC
