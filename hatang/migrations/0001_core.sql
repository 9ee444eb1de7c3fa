-- Core tables of hatang. Later migrations extend these (ADD COLUMN, new tables); docs/architecture.md
-- explains the shape of `readings`.

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- The five sectors of Kế hoạch 333/KH-UBND's target: "giao thông, năng lượng, điện, nước, đô thị".
CREATE DOMAIN sector AS text
    CHECK (VALUE IN ('transport', 'energy', 'electricity', 'water', 'urban'));

CREATE TABLE organisations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    role            text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    -- The public part of the key, used to find the row; the secret part is only stored hashed.
    prefix          text NOT NULL UNIQUE,
    secret_hash     bytea NOT NULL,
    name            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    last_used_at    timestamptz
);

-- Areas are data: province > district > commune, re-organised by retiring and re-parenting rows.
CREATE TABLE areas (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    parent_id   bigint REFERENCES areas (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

CREATE TABLE assets (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id     text NOT NULL UNIQUE CHECK (external_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    area_id         bigint NOT NULL REFERENCES areas (id),
    sector          sector NOT NULL,
    kind            text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,62}$'),
    name            text NOT NULL DEFAULT '',
    lat             double precision CHECK (lat BETWEEN -90 AND 90),
    lon             double precision CHECK (lon BETWEEN -180 AND 180),
    essential       boolean NOT NULL DEFAULT true,
    metadata        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assets_organisation_idx ON assets (organisation_id);
CREATE INDEX assets_area_idx ON assets (area_id);
CREATE INDEX assets_sector_idx ON assets (sector) WHERE essential;

-- Canonical metrics of the firmware contracts' catalogue; a small integer key for readings.
CREATE TABLE metrics (
    id          smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    unit        text NOT NULL,
    sector      sector NOT NULL,
    min_value   double precision,
    max_value   double precision,
    description text NOT NULL DEFAULT ''
);

-- Device models: the firmware contracts, loaded from firmware_contracts/ (contracts are data).
CREATE TABLE device_models (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model       text NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    sector      sector NOT NULL,
    contract    jsonb NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model, version)
);

CREATE TABLE devices (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The stable external id is also the MQTT username and a topic level: no '/', '+', '#'.
    external_id      text NOT NULL UNIQUE CHECK (external_id ~ '^[a-z0-9][a-z0-9_-]{1,63}$'),
    model_id         integer NOT NULL REFERENCES device_models (id),
    organisation_id  bigint NOT NULL REFERENCES organisations (id),
    asset_id         bigint REFERENCES assets (id),
    state            text NOT NULL DEFAULT 'provisioned'
                     CHECK (state IN ('provisioned', 'active', 'suspended', 'retired')),
    firmware_version text,
    metadata         jsonb NOT NULL DEFAULT '{}',
    -- Mosquitto `$7$` (PBKDF2-SHA512) hash of the device's MQTT secret; the secret is never stored.
    mqtt_secret_hash text,
    last_seen        timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_organisation_idx ON devices (organisation_id);
CREATE INDEX devices_asset_idx ON devices (asset_id);

-- Registry changes wake the ingest workers' device caches (one notification per statement, so a
-- bulk upload of 100,000 devices is one notification, not 100,000).
CREATE FUNCTION notify_registry_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hatang_registry', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
CREATE TRIGGER devices_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();
CREATE TRIGGER assets_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON assets
    FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();

-- Readings: narrow (one row per device, metric and instant), integer keys, one-day chunks.
-- The unique key (device_id, metric_id, time) makes a redelivered message land once.
CREATE TABLE readings (
    time       timestamptz NOT NULL,
    device_id  bigint NOT NULL,
    metric_id  smallint NOT NULL,
    value      double precision NOT NULL
);
SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX readings_key ON readings (device_id, metric_id, time DESC);

-- The latest value per device and metric, kept by ingest with batched upserts.
CREATE TABLE latest_readings (
    device_id  bigint NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    metric_id  smallint NOT NULL REFERENCES metrics (id),
    time       timestamptz NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (device_id, metric_id)
);

-- Every rejected message, kept whole with its reason, until replayed or purged.
CREATE TABLE dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    device_id    bigint REFERENCES devices (id) ON DELETE SET NULL,
    reason       text NOT NULL,
    message      text NOT NULL,
    record       integer,
    replayed_at  timestamptz,
    replay_result text
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason, received_at DESC);

-- Who did what, when: every change made through the API or the command line.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    api_key_id      bigint REFERENCES api_keys (id),
    actor           text NOT NULL,
    organisation_id bigint REFERENCES organisations (id),
    action          text NOT NULL,
    entity          text NOT NULL,
    entity_id       text NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
