-- name: failed-rows
-- description: The rows of one execution that were not applied because of an error, in file order. Parameter 1 = execution name.
SELECT
  line,
  COALESCE(user_id, raw_user_id) AS user_id,
  status,
  error_type,
  error_message
FROM user_update_results
WHERE execution_name = ?
  AND status IN ('FAILED', 'PENDING')
ORDER BY line
