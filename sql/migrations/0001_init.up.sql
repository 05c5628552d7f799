-- churnctl warehouse: the gold star schema, feature snapshots, predictions,
-- the model registry and run records, all in schema churn.
CREATE SCHEMA IF NOT EXISTS churn;

-- Users as slowly changing dimension type 2: one row per version of a user's
-- attributes; valid_to is NULL and is_current true on the current version.
CREATE TABLE churn.dim_user (
    user_id      text        NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    is_current   boolean     NOT NULL,
    level        text,
    registration timestamptz,
    gender       text,
    location     text,
    user_agent   text,
    first_name   text,
    last_name    text,
    PRIMARY KEY (user_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX dim_user_current_idx ON churn.dim_user (user_id) WHERE is_current;

CREATE TABLE churn.dim_date (
    dt         date     PRIMARY KEY,
    year       smallint NOT NULL,
    quarter    smallint NOT NULL,
    month      smallint NOT NULL,
    day        smallint NOT NULL,
    iso_week   smallint NOT NULL,
    day_of_week smallint NOT NULL, -- ISO: 1 = Monday .. 7 = Sunday
    is_weekend boolean  NOT NULL
);

CREATE TABLE churn.dim_page (
    page     text PRIMARY KEY,
    category text
);

CREATE TABLE churn.fact_session (
    user_id        text             NOT NULL,
    session_id     bigint           NOT NULL,
    session_start  timestamptz      NOT NULL,
    session_end    timestamptz      NOT NULL,
    duration_s     double precision NOT NULL,
    items          integer          NOT NULL,
    songs          integer          NOT NULL,
    listen_seconds double precision NOT NULL,
    dt             date             NOT NULL, -- day of session_start (UTC)
    PRIMARY KEY (user_id, session_id, session_start)
);
CREATE INDEX fact_session_dt_idx ON churn.fact_session (dt);

-- One row per user and active day; n_<page> counts events per page.
CREATE TABLE churn.fact_user_day (
    user_id                       text             NOT NULL,
    dt                            date             NOT NULL,
    n_events                      integer          NOT NULL,
    n_sessions                    integer          NOT NULL,
    n_next_song                   integer          NOT NULL DEFAULT 0,
    n_home                        integer          NOT NULL DEFAULT 0,
    n_thumbs_up                   integer          NOT NULL DEFAULT 0,
    n_thumbs_down                 integer          NOT NULL DEFAULT 0,
    n_add_to_playlist             integer          NOT NULL DEFAULT 0,
    n_add_friend                  integer          NOT NULL DEFAULT 0,
    n_roll_advert                 integer          NOT NULL DEFAULT 0,
    n_logout                      integer          NOT NULL DEFAULT 0,
    n_settings                    integer          NOT NULL DEFAULT 0,
    n_save_settings               integer          NOT NULL DEFAULT 0,
    n_help                        integer          NOT NULL DEFAULT 0,
    n_about                       integer          NOT NULL DEFAULT 0,
    n_error                       integer          NOT NULL DEFAULT 0,
    n_upgrade                     integer          NOT NULL DEFAULT 0,
    n_downgrade                   integer          NOT NULL DEFAULT 0,
    n_submit_upgrade              integer          NOT NULL DEFAULT 0,
    n_submit_downgrade            integer          NOT NULL DEFAULT 0,
    n_cancel                      integer          NOT NULL DEFAULT 0,
    n_cancellation_confirmation   integer          NOT NULL DEFAULT 0,
    n_other                       integer          NOT NULL DEFAULT 0,
    songs                         integer          NOT NULL,
    listen_seconds                double precision NOT NULL,
    distinct_artists              integer          NOT NULL,
    level_end                     text,
    first_ts                      timestamptz      NOT NULL,
    last_ts                       timestamptz      NOT NULL,
    PRIMARY KEY (user_id, dt)
);
CREATE INDEX fact_user_day_dt_idx ON churn.fact_user_day (dt);

-- Leak-free feature vectors as of a day; label is NULL when unknown.
CREATE TABLE churn.feature_snapshot (
    user_id  text     NOT NULL,
    as_of    date     NOT NULL,
    features jsonb    NOT NULL,
    label    smallint CHECK (label IN (0, 1)),
    PRIMARY KEY (user_id, as_of)
);
CREATE INDEX feature_snapshot_as_of_idx ON churn.feature_snapshot (as_of);

-- Every trained version of every model.
CREATE TABLE churn.model (
    name       text        NOT NULL,
    version    text        NOT NULL,
    created_at timestamptz NOT NULL,
    params     jsonb       NOT NULL DEFAULT '{}',
    threshold  double precision,
    alias      text,       -- e.g. 'champion'
    run_id     text,
    PRIMARY KEY (name, version)
);
CREATE INDEX model_alias_idx ON churn.model (name, alias) WHERE alias IS NOT NULL;

-- Metric history for Grafana: one row per model version, metric, dataset and evaluation.
CREATE TABLE churn.model_metric (
    name         text             NOT NULL,
    version      text             NOT NULL,
    metric       text             NOT NULL,
    value        double precision NOT NULL,
    evaluated_at timestamptz      NOT NULL,
    dataset      text             NOT NULL DEFAULT '',
    PRIMARY KEY (name, version, metric, dataset, evaluated_at),
    FOREIGN KEY (name, version) REFERENCES churn.model (name, version) ON DELETE CASCADE
);
CREATE INDEX model_metric_history_idx ON churn.model_metric (name, metric, evaluated_at);

CREATE TABLE churn.prediction (
    user_id       text             NOT NULL,
    as_of         date             NOT NULL,
    p_churn       double precision NOT NULL CHECK (p_churn >= 0 AND p_churn <= 1),
    predicted     boolean          NOT NULL,
    threshold     double precision NOT NULL,
    model_name    text             NOT NULL,
    model_version text             NOT NULL,
    run_id        text,
    PRIMARY KEY (user_id, as_of, model_name, model_version)
);
CREATE INDEX prediction_as_of_p_churn_idx ON churn.prediction (as_of, p_churn DESC);
CREATE INDEX prediction_model_idx ON churn.prediction (model_name, model_version);

-- One row per churnctl invocation (args never hold secrets: DSNs are redacted).
CREATE TABLE churn.run (
    run_id      text        PRIMARY KEY,
    command     text        NOT NULL,
    args        jsonb       NOT NULL DEFAULT '[]',
    status      text        NOT NULL,
    exit_code   integer,
    counts      jsonb       NOT NULL DEFAULT '{}',
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    duration_ms bigint,
    version     text
);
CREATE INDEX run_started_at_idx ON churn.run (started_at);
CREATE INDEX run_command_idx ON churn.run (command, started_at);
