-- devices.last_seen moves to a narrow table of its own (docs/capacity.md, "What each device costs
-- the database"; docs/ingest.md, "Device health"). Ingest writes last_seen for about one device per
-- message at city scale (once a minute per device, ingest.seen): the same upsert costs ~4.6 µs of
-- PostgreSQL per device on a narrow (device_id, last_seen) table against ~16 µs for the update of
-- the wide devices row, and each of those updates also ran readiness's statement trigger on devices
-- with transition tables of whole device rows. Devices now change only when the registry does.
-- Ingest's whole write, triggers included, costs 0.56-0.61 of what it did in steady state and
-- 0.64-0.70 on first sightings (hatang bench seen, 100,000 devices, 5,000-device batches, before and
-- after alternating in one process; docs/capacity.md has the runs and their load).
--
-- No foreign key to devices. With REFERENCES devices ON DELETE CASCADE, ingest's insert for a device
-- deleted by a concurrent transaction fails the whole batch (a foreign-key violation), where the old
-- UPDATE just updated 0 rows; locking the device rows first (FOR KEY SHARE) would avoid it but
-- writes a row lock into the wide devices pages on every batch, the very cost moved away. Instead:
-- * ingest writes only for devices its statement sees (joined to devices by primary key);
-- * deleting devices deletes their rows (devices_seen_delete below), truncating truncates;
-- * a deletion racing ingest's write can still leave an orphan row (the delete ran first, ingest's
--   insert committed after). It is harmless: device ids are GENERATED ALWAYS AS IDENTITY (0001), never
--   reused, so no other device ever gets its id, and every reader goes from devices to this table by
--   device id (a LEFT JOIN or a lookup), never the other way. The readiness triggers below look the
--   device up and find none. `DELETE FROM device_seen s WHERE NOT EXISTS (SELECT FROM devices d
--   WHERE d.id = s.device_id)` removes orphans, if one ever cares to.
-- fillfactor 70, as devices had (0301): room on each page for the new row version, so the update is
-- HOT (last_seen is in no index) and pruned in place.
CREATE TABLE device_seen (
    device_id bigint PRIMARY KEY,
    last_seen timestamptz NOT NULL
) WITH (fillfactor = 70);

INSERT INTO device_seen (device_id, last_seen)
SELECT id, last_seen FROM devices WHERE last_seen IS NOT NULL ORDER BY id;

-- The touch trigger skipped ingest's writes of last_seen (0201). Every devices update is a registry
-- change now: the trigger runs for all of them, and touch_updated_at no longer names last_seen (an
-- update of devices that changes nothing still leaves updated_at alone, as before).
DROP TRIGGER devices_touch ON devices;
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'devices' AND (to_jsonb(NEW) - 'updated_at') = (to_jsonb(OLD) - 'updated_at') THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$$;
CREATE TRIGGER devices_touch BEFORE UPDATE ON devices
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

ALTER TABLE devices DROP COLUMN last_seen;

-- Deleting devices deletes their rows (no foreign key: see above).
CREATE FUNCTION device_seen_devices_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE device_seen;
    ELSE
        DELETE FROM device_seen s USING old_devices o WHERE s.device_id = o.id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER devices_seen_delete AFTER DELETE ON devices
    REFERENCING OLD TABLE AS old_devices FOR EACH STATEMENT EXECUTE FUNCTION device_seen_devices_deleted();
CREATE TRIGGER devices_seen_truncate AFTER TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION device_seen_devices_deleted();

-- Readiness (1100) read devices.last_seen: the functions that did now read device_seen, with the
-- same results. newest_seen stays exact after every registry change (the recomputations join the
-- devices to their rows here) and is moved by ingest's writes per 5-minute bucket.
CREATE OR REPLACE FUNCTION readiness_assets_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(ids), 0) = 0 THEN
        RETURN;
    END IF;
    PERFORM FROM readiness_assets WHERE asset_id = ANY (ids) ORDER BY asset_id FOR NO KEY UPDATE;
    INSERT INTO readiness_assets AS r
        (asset_id, sector, area_id, organisation_id, essential, demo, equipped, newest_seen)
    SELECT a.id, a.sector, a.area_id, a.organisation_id, a.essential, a.demo, f.equipped, f.newest_seen
    FROM assets a
    CROSS JOIN LATERAL (
        SELECT count(*) > 0 AS equipped, max(s.last_seen) AS newest_seen
        FROM devices d JOIN device_models m ON m.id = d.model_id
        LEFT JOIN device_seen s ON s.device_id = d.id
        WHERE d.asset_id = a.id AND d.state = 'active' AND m.sector = a.sector
    ) f
    WHERE a.id = ANY (ids)
    ON CONFLICT (asset_id) DO UPDATE SET
        sector = EXCLUDED.sector, area_id = EXCLUDED.area_id,
        organisation_id = EXCLUDED.organisation_id, essential = EXCLUDED.essential,
        demo = EXCLUDED.demo, equipped = EXCLUDED.equipped, newest_seen = EXCLUDED.newest_seen
    WHERE (r.sector, r.area_id, r.organisation_id, r.essential, r.demo, r.equipped, r.newest_seen)
          IS DISTINCT FROM (EXCLUDED.sector, EXCLUDED.area_id, EXCLUDED.organisation_id,
                            EXCLUDED.essential, EXCLUDED.demo, EXCLUDED.equipped, EXCLUDED.newest_seen);
END;
$$;

CREATE OR REPLACE FUNCTION readiness_assets_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE readiness_assets IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM readiness_assets r WHERE NOT EXISTS (SELECT FROM assets a WHERE a.id = r.asset_id);
    INSERT INTO readiness_assets AS r
        (asset_id, sector, area_id, organisation_id, essential, demo, equipped, newest_seen)
    SELECT a.id, a.sector, a.area_id, a.organisation_id, a.essential, a.demo,
           f.asset_id IS NOT NULL, f.newest_seen
    FROM assets a
    LEFT JOIN (
        SELECT d.asset_id, m.sector, max(s.last_seen) AS newest_seen
        FROM devices d JOIN device_models m ON m.id = d.model_id
        LEFT JOIN device_seen s ON s.device_id = d.id
        WHERE d.state = 'active' AND d.asset_id IS NOT NULL
        GROUP BY d.asset_id, m.sector
    ) f ON f.asset_id = a.id AND f.sector = a.sector
    ON CONFLICT (asset_id) DO UPDATE SET
        sector = EXCLUDED.sector, area_id = EXCLUDED.area_id,
        organisation_id = EXCLUDED.organisation_id, essential = EXCLUDED.essential,
        demo = EXCLUDED.demo, equipped = EXCLUDED.equipped, newest_seen = EXCLUDED.newest_seen
    WHERE (r.sector, r.area_id, r.organisation_id, r.essential, r.demo, r.equipped, r.newest_seen)
          IS DISTINCT FROM (EXCLUDED.sector, EXCLUDED.area_id, EXCLUDED.organisation_id,
                            EXCLUDED.essential, EXCLUDED.demo, EXCLUDED.equipped, EXCLUDED.newest_seen);
END;
$$;

-- Inserted devices only equip: a new device has no row in device_seen yet (its id is new, and an
-- orphan's id is never handed out again), so its asset's newest_seen does not move.
CREATE OR REPLACE FUNCTION readiness_devices_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One update per asset, its conditions rechecked on the newest row version if a concurrent
    -- transaction changed it first (READ COMMITTED).
    WITH added AS MATERIALIZED (
        SELECT DISTINCT n.asset_id, m.sector
        FROM new_devices n JOIN device_models m ON m.id = n.model_id
        WHERE n.state = 'active' AND n.asset_id IS NOT NULL
        ORDER BY n.asset_id
    )
    UPDATE readiness_assets r SET equipped = true
    FROM added
    WHERE r.asset_id = added.asset_id AND r.sector = added.sector AND NOT r.equipped;
    RETURN NULL;
END;
$$;

-- Devices, updated: only the registry updates devices now, so the trigger only recomputes the
-- assets a device left and joined when its state, asset or model changed. Freshness moved to the
-- triggers on device_seen below.
CREATE OR REPLACE FUNCTION readiness_devices_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM readiness_assets_refresh(ARRAY(
        SELECT DISTINCT stale.asset_id
        FROM old_devices o JOIN new_devices n USING (id)
        CROSS JOIN LATERAL (VALUES (CASE WHEN o.state = 'active' THEN o.asset_id END),
                                   (CASE WHEN n.state = 'active' THEN n.asset_id END)) AS stale (asset_id)
        WHERE stale.asset_id IS NOT NULL
          AND (o.state, o.asset_id, o.model_id) IS DISTINCT FROM (n.state, n.asset_id, n.model_id)
    ));
    RETURN NULL;
END;
$$;

-- Freshness, from ingest's writes (ingest.sink, UPSERT_SEEN: one INSERT ... ON CONFLICT DO UPDATE
-- per batch, up to 5,000 devices, which fires both statement triggers: first sightings in the
-- INSERT trigger's new rows, later writes in the UPDATE trigger's). Only rows whose last_seen is new
-- or entered a new bucket are looked up (device, then model for its sector), and an asset's row is
-- written only when that moves its newest_seen into a new bucket: newest_seen stays in
-- (true newest - granularity, true newest], as before. The devices are found by primary key
-- (`d.id = ANY (ARRAY(...))`): joined to the transition rows alone, the planner hashed the whole
-- devices table (hatang bench seen, 100,000 devices: 27-28 ms of trigger per 5,000-device batch
-- with a fifth of it in a new bucket, against 6 ms for the trigger on devices it replaces).
-- A write that moves last_seen back (by hand, a test: ingest only moves it forward) or a deleted row
-- recomputes the device's asset exactly. A row's device_id never changes (refused below), so the
-- update trigger pairs old and new rows by it and needs no anti-join for rows that changed device.
CREATE FUNCTION device_seen_key_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'device_seen.device_id cannot change (delete the row and insert another)'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER device_seen_key BEFORE UPDATE OF device_id ON device_seen
    FOR EACH ROW WHEN (OLD.device_id IS DISTINCT FROM NEW.device_id)
    EXECUTE FUNCTION device_seen_key_fixed();

CREATE FUNCTION readiness_seen_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH seen AS MATERIALIZED (
        SELECT d.asset_id, m.sector, max(n.last_seen) AS newest_seen
        FROM new_seen n JOIN devices d ON d.id = n.device_id JOIN device_models m ON m.id = d.model_id
        WHERE d.id = ANY (ARRAY(SELECT device_id FROM new_seen))
          AND d.state = 'active' AND d.asset_id IS NOT NULL
        GROUP BY d.asset_id, m.sector
        ORDER BY d.asset_id
    )
    UPDATE readiness_assets r SET newest_seen = greatest(r.newest_seen, seen.newest_seen)
    FROM seen
    WHERE r.asset_id = seen.asset_id AND r.sector = seen.sector
      AND (r.newest_seen IS NULL OR r.newest_seen < readiness_seen_bucket(seen.newest_seen));
    RETURN NULL;
END;
$$;

CREATE FUNCTION readiness_seen_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    recompute bigint[];
BEGIN
    WITH moved AS MATERIALIZED (
        SELECT n.device_id, n.last_seen, n.last_seen < o.last_seen AS back
        FROM old_seen o JOIN new_seen n USING (device_id)
        WHERE readiness_seen_bucket(n.last_seen) > readiness_seen_bucket(o.last_seen)
           OR n.last_seen < o.last_seen
    ), seen AS MATERIALIZED (
        SELECT d.asset_id, m.sector, max(v.last_seen) AS newest_seen
        FROM moved v JOIN devices d ON d.id = v.device_id JOIN device_models m ON m.id = d.model_id
        WHERE d.id = ANY (ARRAY(SELECT device_id FROM moved WHERE NOT back))
          AND NOT v.back AND d.state = 'active' AND d.asset_id IS NOT NULL
        GROUP BY d.asset_id, m.sector
        ORDER BY d.asset_id
    ), bumped AS (
        UPDATE readiness_assets r SET newest_seen = greatest(r.newest_seen, seen.newest_seen)
        FROM seen
        WHERE r.asset_id = seen.asset_id AND r.sector = seen.sector
          AND (r.newest_seen IS NULL OR r.newest_seen < readiness_seen_bucket(seen.newest_seen))
    )
    SELECT array_agg(DISTINCT d.asset_id) INTO recompute
    FROM moved v JOIN devices d ON d.id = v.device_id
    WHERE v.back AND d.state = 'active' AND d.asset_id IS NOT NULL;
    PERFORM readiness_assets_refresh(recompute);
    RETURN NULL;
END;
$$;

CREATE FUNCTION readiness_seen_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM readiness_assets_rebuild();
    ELSE
        -- The rows of deleted devices (devices_seen_delete) find no device: their assets were
        -- recomputed by the deletion itself.
        PERFORM readiness_assets_refresh(ARRAY(
            SELECT DISTINCT d.asset_id FROM old_seen o JOIN devices d ON d.id = o.device_id
            WHERE d.state = 'active' AND d.asset_id IS NOT NULL
        ));
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER device_seen_readiness_insert AFTER INSERT ON device_seen
    REFERENCING NEW TABLE AS new_seen FOR EACH STATEMENT EXECUTE FUNCTION readiness_seen_inserted();
CREATE TRIGGER device_seen_readiness_update AFTER UPDATE ON device_seen
    REFERENCING OLD TABLE AS old_seen NEW TABLE AS new_seen
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_seen_updated();
CREATE TRIGGER device_seen_readiness_delete AFTER DELETE ON device_seen
    REFERENCING OLD TABLE AS old_seen FOR EACH STATEMENT EXECUTE FUNCTION readiness_seen_deleted();
CREATE TRIGGER device_seen_readiness_truncate AFTER TRUNCATE ON device_seen
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_seen_deleted();

-- The same rows as before (the recomputation reads device_seen now); a no-op unless the triggers
-- were off.
SELECT readiness_assets_rebuild();
ANALYZE device_seen;
