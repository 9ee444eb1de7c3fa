-- The scheduler role (`hatang scheduler`, docs/deploy.md): every job run it starts is recorded, so
-- an operator (and the tests) can see which replica ran what, when, and whether it failed. One
-- replica leads at a time (a PostgreSQL advisory lock); `holder` names it.
CREATE TABLE scheduler_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text NOT NULL CHECK (job ~ '^[a-z][a-z0-9_]{0,39}$'),
    holder      text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    ok          boolean,
    detail      text
);
CREATE INDEX scheduler_runs_job_started ON scheduler_runs (job, started_at DESC);
