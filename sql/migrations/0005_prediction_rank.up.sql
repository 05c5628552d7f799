-- Capacity: score ranks each as_of's users by churn probability (rank 1 =
-- the most likely churner) and flags with contact the top --top K% or
-- --budget N of them. Predictions scored before have no rank (NULL) and
-- were contacted by nobody (false).
ALTER TABLE churn.prediction ADD COLUMN rank integer CHECK (rank >= 1);
ALTER TABLE churn.prediction ADD COLUMN contact boolean NOT NULL DEFAULT false;
CREATE INDEX prediction_contact_idx ON churn.prediction (as_of, rank) WHERE contact;
