-- Readiness (docs/readiness.md): the plan's targets as data, the daily snapshots behind the history
-- and past days, and the device index that lets /v1/readiness answer without touching `readings`.

-- Kế hoạch 333/KH-UBND, II.2: "40% hạ tầng thiết yếu như giao thông, năng lượng, điện, nước, đô thị có
-- khả năng tích hợp cảm biến và ứng dụng IoT" by 2025. A later plan adds rows with later deadlines;
-- the target that applies on a day is the nearest deadline not yet passed, else the latest one.
CREATE TABLE readiness_targets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sector      sector NOT NULL,
    share       numeric(5, 4) NOT NULL CHECK (share > 0 AND share <= 1),
    deadline    date NOT NULL,
    source      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sector, deadline)
);
INSERT INTO readiness_targets (sector, share, deadline, source)
SELECT s, 0.4, DATE '2025-12-31', 'Kế hoạch 333/KH-UBND (Bắc Ninh, 13/10/2023), mục II.2'
FROM unnest(ARRAY['transport', 'energy', 'electricity', 'water', 'urban']) AS s;

-- One row per province-local day, sector, area and organisation, rolled up at the time it was taken:
-- area_id is the area *with its descendants* as the hierarchy stood that day (NULL: every area);
-- organisation_id NULL: every organisation. The job replaces a day's rows whole, so the last run of
-- a day stands for it.
CREATE TABLE readiness_snapshots (
    day              date NOT NULL,
    sector           sector NOT NULL,
    area_id          bigint REFERENCES areas (id),
    organisation_id  bigint REFERENCES organisations (id),
    essential        integer NOT NULL CHECK (essential >= 0),
    equipped         integer NOT NULL CHECK (equipped BETWEEN 0 AND essential),
    ready            integer NOT NULL CHECK (ready BETWEEN 0 AND equipped),
    freshness_window interval NOT NULL,
    taken_at         timestamptz NOT NULL
);
-- coalesce(…, 0): identity columns start at 1, so 0 stands for "all" and the scope is one index range.
CREATE UNIQUE INDEX readiness_snapshots_key
    ON readiness_snapshots ((coalesce(area_id, 0)), (coalesce(organisation_id, 0)), day, sector);
CREATE INDEX readiness_snapshots_day_idx ON readiness_snapshots (day);

-- Readiness joins each essential asset to its active devices' model and last_seen (kept by ingest from
-- valid readings): one index-only range per query instead of the devices heap.
CREATE INDEX devices_active_asset_idx ON devices (asset_id) INCLUDE (model_id, last_seen)
    WHERE state = 'active' AND asset_id IS NOT NULL;
CREATE INDEX assets_essential_area_idx ON assets (area_id) INCLUDE (sector, organisation_id) WHERE essential;
