-- name: user-history
-- description: Every row of one user across runs, newest first. Parameter 1 = user id (EXECUTE ... USING 'U0000001').
SELECT
  update_timestamp,
  execution_name,
  line,
  status,
  old_login_count,
  new_login_count,
  old_post_count,
  new_post_count,
  error_type,
  superseded_by,
  source_key
FROM user_update_results
WHERE user_id = ?
ORDER BY update_timestamp DESC, execution_name DESC, line DESC
