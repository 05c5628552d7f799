-- Align the star schema with the gold stage's Parquet (etl/gold/schema.go):
-- paid-event counts, sessions crossing midnight, dim_date without quarter,
-- dim_page's group and flags.
ALTER TABLE churn.fact_user_day ADD COLUMN n_paid_events integer NOT NULL DEFAULT 0;
ALTER TABLE churn.fact_session ADD COLUMN crosses_midnight boolean NOT NULL DEFAULT false;
ALTER TABLE churn.dim_date ALTER COLUMN quarter DROP NOT NULL;
ALTER TABLE churn.dim_page RENAME COLUMN category TO page_group;
ALTER TABLE churn.dim_page ADD COLUMN is_song boolean, ADD COLUMN is_churn_event boolean;
