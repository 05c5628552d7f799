-- One name for the label everywhere: the lake (features Parquet,
-- features.schema.json, the model header) calls it churn, so does the
-- warehouse now. The column keeps its values and its CHECK.
ALTER TABLE churn.feature_snapshot RENAME COLUMN label TO churn;

-- churn.model_metric: a JSON null (metrics.json "search": null when no
-- search ran, "cv"/"oob": null when not computed) used to load as a metric
-- of value 0. Those rows never held a figure.
DELETE FROM churn.model_metric WHERE dataset = '' AND metric IN ('search', 'cv', 'oob') AND value = 0;

-- Every metric names its dataset: '' (the training run's own figures: rows,
-- positives, threshold, fit_seconds) becomes 'training', as the loader now
-- writes them. A row that would collide with an existing 'training' row of
-- the same key keeps ''.
UPDATE churn.model_metric m SET dataset = 'training'
WHERE m.dataset = '' AND NOT EXISTS (
    SELECT 1 FROM churn.model_metric o
    WHERE o.name = m.name AND o.version = m.version AND o.metric = m.metric
      AND o.dataset = 'training' AND o.evaluated_at = m.evaluated_at);
ALTER TABLE churn.model_metric ALTER COLUMN dataset DROP DEFAULT;
ALTER TABLE churn.model_metric ADD CONSTRAINT model_metric_dataset_named CHECK (dataset <> '') NOT VALID;
