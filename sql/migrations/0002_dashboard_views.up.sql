-- Views the dashboards query: the latest prediction per user and model, and
-- activity per day.
CREATE VIEW churn.latest_prediction AS
SELECT DISTINCT ON (p.user_id, p.model_name) p.*
FROM churn.prediction p
ORDER BY p.user_id, p.model_name, p.as_of DESC, p.model_version DESC;

CREATE VIEW churn.daily_activity AS
SELECT dt, count(*) AS active_users, sum(n_events) AS events, sum(songs) AS songs,
       sum(listen_seconds) AS listen_seconds
FROM churn.fact_user_day
GROUP BY dt;
