-- Rollups of `readings` that the platform keeps itself (the Apache edition has no continuous
-- aggregates): one row per device, metric and minute (`readings_1m`) or hour (`readings_1h`) holding
-- the partial aggregates every query combines — count, sum, min, max and the last value with its time.
-- registry/timeseries/rollups.py keeps them; docs/dashboard.md explains the design. On the community
-- edition the same maintenance code creates continuous aggregates instead and these tables stay empty.

CREATE TABLE readings_1m (
    bucket     timestamptz NOT NULL,
    device_id  bigint NOT NULL,
    metric_id  smallint NOT NULL,
    count      bigint NOT NULL,
    sum        double precision NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    last_time  timestamptz NOT NULL,
    last_value double precision NOT NULL
);
-- Hypertables so that rollup retention is drop_chunks too (kept longer than raw readings).
SELECT create_hypertable('readings_1m', by_range('bucket', INTERVAL '7 days'), create_default_indexes => false);
CREATE UNIQUE INDEX readings_1m_key ON readings_1m (device_id, metric_id, bucket DESC);

CREATE TABLE readings_1h (LIKE readings_1m);
SELECT create_hypertable('readings_1h', by_range('bucket', INTERVAL '90 days'), create_default_indexes => false);
CREATE UNIQUE INDEX readings_1h_key ON readings_1h (device_id, metric_id, bucket DESC);

-- Per level, everything before `watermark` is materialised; queries read raw data from there on.
CREATE TABLE rollup_state (
    level        text PRIMARY KEY CHECK (level IN ('1m', '1h')),
    watermark    timestamptz,
    refreshed_at timestamptz
);
INSERT INTO rollup_state (level) VALUES ('1m'), ('1h');

-- Minutes that received a late reading (older than its transaction's start by more than two minutes) and
-- must be re-aggregated although they may lie behind the watermark.
CREATE TABLE rollup_invalidations (
    bucket timestamptz PRIMARY KEY
);

CREATE FUNCTION readings_invalidate_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_invalidations (bucket) VALUES (date_trunc('minute', NEW.time)) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
-- The WHEN clause is evaluated in C for every row and costs nothing measurable on ingest's COPY; the
-- function runs only for late rows. The two minutes here is rollups.LATE_AFTER: keep them equal.
CREATE TRIGGER readings_late AFTER INSERT ON readings
    FOR EACH ROW WHEN (NEW.time < now() - INTERVAL '2 minutes')
    EXECUTE FUNCTION readings_invalidate_rollups();
