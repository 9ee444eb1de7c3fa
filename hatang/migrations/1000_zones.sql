-- The first clause of Kế hoạch 333/KH-UBND's IoT target (section II.2): "Hạ tầng Internet vạn vật
-- (IoT) độ trễ thấp sẵn sàng tại tất cả các khu công nghệ cao, khu công nghệ thông tin tập trung,
-- trung tâm nghiên cứu". Zones and their kinds are data; ingest keeps per-device delivery-latency
-- histograms per hour; zone readiness is assessed from them and kept in daily snapshots.
-- docs/readiness.md ("Low-latency IoT in the zones") states the definition.

-- Kinds of zone. `in_target`: counted by the clause above ("all" of them must be ready); industrial
-- parks are listed and measured but belong to the plan's step-by-step clause, which sets no figure.
CREATE TABLE zone_kinds (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
    name       text NOT NULL,
    name_en    text NOT NULL,
    in_target  boolean NOT NULL,
    position   smallint NOT NULL DEFAULT 0
);
INSERT INTO zone_kinds (code, name, name_en, in_target, position) VALUES
    ('high_tech_zone', 'Khu công nghệ cao', 'High-tech zone', true, 1),
    ('it_park', 'Khu công nghệ thông tin tập trung', 'Concentrated IT park', true, 2),
    ('research_centre', 'Trung tâm nghiên cứu', 'Research centre', true, 3),
    ('industrial_park', 'Khu công nghiệp', 'Industrial park', false, 4);

-- A zone: a centre and a radius decide which assets (and so which devices) lie in it; `boundary`
-- (a GeoJSON Polygon, optional) is what the map draws. `approximate`: the position is from public
-- knowledge, not a survey.
CREATE TABLE zones (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code         text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_en      text NOT NULL DEFAULT '',
    kind         text NOT NULL REFERENCES zone_kinds (code),
    lat          double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon          double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    radius_m     double precision NOT NULL CHECK (radius_m > 0 AND radius_m <= 50000),
    boundary     jsonb,
    approximate  boolean NOT NULL DEFAULT true,
    source       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz
);
CREATE TRIGGER zones_touch BEFORE UPDATE ON zones FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The administrative areas a zone lies in (many parks straddle a boundary).
CREATE TABLE zone_areas (
    zone_id  bigint NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    area_id  bigint NOT NULL REFERENCES areas (id),
    PRIMARY KEY (zone_id, area_id)
);

-- The clause's target as data, like readiness_targets: all (1.0) of the counted zones by the deadline.
CREATE TABLE zone_targets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    share       numeric(5, 4) NOT NULL CHECK (share > 0 AND share <= 1),
    deadline    date NOT NULL UNIQUE,
    source      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO zone_targets (share, deadline, source)
VALUES (1, DATE '2025-12-31', 'Kế hoạch 333/KH-UBND (Bắc Ninh, 13/10/2023), mục II.2');

-- Delivery latency (reading time -> commit) per device and hour, as counts per histogram bucket
-- (registry.readiness.latency.BOUNDS, plus one overflow bucket). Ingest adds to a row once per flush
-- interval, never once per message.
CREATE TABLE device_latency (
    device_id  bigint NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    hour       timestamptz NOT NULL,
    counts     integer[] NOT NULL,
    messages   bigint NOT NULL CHECK (messages >= 0),
    sum_s      double precision NOT NULL,
    PRIMARY KEY (device_id, hour)
);
CREATE INDEX device_latency_hour_idx ON device_latency (hour);

-- Zone readiness per province-local day, replaced whole by each snapshot run (like readiness_snapshots).
CREATE TABLE zone_snapshots (
    day              date NOT NULL,
    zone_id          bigint NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    active_devices   integer NOT NULL CHECK (active_devices >= 0),
    fresh_devices    integer NOT NULL CHECK (fresh_devices BETWEEN 0 AND active_devices),
    messages         bigint NOT NULL CHECK (messages >= 0),
    latency_s        double precision,
    ready            boolean NOT NULL,
    reason           text,
    freshness_window interval NOT NULL,
    latency_bound_s  double precision NOT NULL,
    quantile         numeric(5, 4) NOT NULL,
    taken_at         timestamptz NOT NULL,
    PRIMARY KEY (day, zone_id)
);
