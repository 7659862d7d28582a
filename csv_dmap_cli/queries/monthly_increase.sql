-- name: monthly-increase
-- description: Monthly analysis: increase of logins and posts per month (applied rows, last 12 months).
SELECT
  date_trunc('month', update_timestamp) AS month,
  SUM(new_login_count - COALESCE(old_login_count, 0)) AS total_login_increase,
  SUM(new_post_count - COALESCE(old_post_count, 0)) AS total_post_increase,
  AVG(new_login_count - COALESCE(old_login_count, 0)) AS avg_login_increase,
  COUNT(*) AS users_updated
FROM user_update_results
WHERE execution_date >= CAST(CAST(current_date - INTERVAL '12' MONTH AS date) AS varchar)
  AND status = 'APPLIED'
GROUP BY date_trunc('month', update_timestamp)
ORDER BY month
