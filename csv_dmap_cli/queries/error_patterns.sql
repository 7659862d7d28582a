-- name: error-patterns
-- description: Rows not applied in the last 30 days by error type: how many, in how many runs, for how many users, an example.
SELECT
  error_type,
  COUNT(*) AS row_count,
  COUNT(DISTINCT execution_name) AS executions,
  COUNT(DISTINCT COALESCE(user_id, raw_user_id)) AS affected_users,
  MIN(update_timestamp) AS first_seen,
  MAX(update_timestamp) AS last_seen,
  MIN(error_message) AS example_message
FROM user_update_results
WHERE execution_date >= CAST(CAST(current_date - INTERVAL '30' DAY AS date) AS varchar)
  AND status IN ('FAILED', 'PENDING')
GROUP BY error_type
ORDER BY row_count DESC, error_type
