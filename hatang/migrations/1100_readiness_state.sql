-- Readiness per asset, kept by the database (issue 15; docs/readiness.md, "The per-asset state").
-- /v1/readiness joined every essential asset to every active device on each computation: 5.2 s p50,
-- 9.0 s p99 at 1,000,000 essential assets and 2,000,000 devices (docs/capacity.md, "Second round").
-- The live counts and the snapshots now read one narrow row per asset instead; these triggers keep
-- it exact in the transaction that changes the registry, set-based (statement triggers with
-- transition tables), and keep its freshness from ingest's last_seen writes at a granularity.
--
-- One row per asset (essential or not, so that every path can lock the row it recomputes):
-- * equipped: the asset has an active device of a model of its own sector (a "fitting" device);
-- * newest_seen: the newest last_seen of those devices, exact after every registry change, and
--   moved forward by ingest's writes only when it moves by more than readiness_seen_granularity()
--   (always when it was NULL): it lies in [true newest - granularity, true newest], so an asset is
--   ready (newest_seen >= now - window) exactly as defined except that it may stop counting up to
--   one granularity before its last reading leaves the window.
-- No foreign key to assets: the asset triggers insert and delete the rows, and an RI check per row
-- would double the cost of a bulk asset load.
CREATE TABLE readiness_assets (
    asset_id        bigint PRIMARY KEY,
    sector          text NOT NULL,
    area_id         bigint NOT NULL,
    organisation_id bigint NOT NULL,
    essential       boolean NOT NULL,
    demo            boolean NOT NULL,
    equipped        boolean NOT NULL,
    newest_seen     timestamptz,
    CHECK (equipped OR newest_seen IS NULL)
) WITH (fillfactor = 80);  -- newest_seen is in no index: its updates are HOT, pruned in place
CREATE INDEX readiness_assets_area_idx ON readiness_assets (area_id) WHERE essential;
CREATE INDEX readiness_assets_organisation_idx ON readiness_assets (organisation_id) WHERE essential;
-- The demo assets among them (GET /v1/readiness counts them apart on every request): usually few.
CREATE INDEX readiness_assets_demo_idx ON readiness_assets (sector) WHERE essential AND demo;

-- How far an asset's newest last_seen must move before ingest's write moves newest_seen: 5 minutes,
-- against a 24-hour freshness window (0.35%). A device reporting every minute then rewrites its
-- asset's row every 5 minutes, not at every last_seen write (60 s apart, ingest.seen).
CREATE FUNCTION readiness_seen_granularity() RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN interval '5 minutes';

-- Recompute the rows of these assets from the registry, exactly. Locks the rows first (in id order,
-- so that concurrent writers take turns instead of deadlocking), then recomputes in a statement of
-- its own: under READ COMMITTED its snapshot then holds whatever a writer it waited for committed.
-- NULL: every asset (the backfill; rows of assets that are gone are deleted).
CREATE FUNCTION readiness_assets_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL THEN
        DELETE FROM readiness_assets r WHERE NOT EXISTS (SELECT FROM assets a WHERE a.id = r.asset_id);
        INSERT INTO readiness_assets AS r
            (asset_id, sector, area_id, organisation_id, essential, demo, equipped, newest_seen)
        SELECT a.id, a.sector, a.area_id, a.organisation_id, a.essential, a.demo,
               f.asset_id IS NOT NULL, f.newest_seen
        FROM assets a
        LEFT JOIN (
            SELECT d.asset_id, m.sector, max(d.last_seen) AS newest_seen
            FROM devices d JOIN device_models m ON m.id = d.model_id
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
        RETURN;
    END IF;
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM FROM readiness_assets WHERE asset_id = ANY (ids) ORDER BY asset_id FOR NO KEY UPDATE;
    INSERT INTO readiness_assets AS r
        (asset_id, sector, area_id, organisation_id, essential, demo, equipped, newest_seen)
    SELECT a.id, a.sector, a.area_id, a.organisation_id, a.essential, a.demo, f.equipped, f.newest_seen
    FROM assets a
    CROSS JOIN LATERAL (
        SELECT count(*) > 0 AS equipped, max(d.last_seen) AS newest_seen
        FROM devices d JOIN device_models m ON m.id = d.model_id
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

-- Assets: a row per asset from its insertion; attributes copied on change; a new sector changes
-- which devices fit, so it recomputes.
CREATE FUNCTION readiness_assets_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A new asset has no device yet: devices reference committed assets only.
    INSERT INTO readiness_assets (asset_id, sector, area_id, organisation_id, essential, demo, equipped)
    SELECT id, sector, area_id, organisation_id, essential, demo, false FROM new_assets;
    RETURN NULL;
END;
$$;

CREATE FUNCTION readiness_assets_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE readiness_assets r
    SET area_id = n.area_id, organisation_id = n.organisation_id, essential = n.essential, demo = n.demo
    FROM old_assets o JOIN new_assets n USING (id)
    WHERE r.asset_id = n.id AND o.sector = n.sector
      AND (o.area_id, o.organisation_id, o.essential, o.demo)
          IS DISTINCT FROM (n.area_id, n.organisation_id, n.essential, n.demo);
    PERFORM readiness_assets_refresh(ARRAY(
        SELECT n.id FROM old_assets o JOIN new_assets n USING (id) WHERE o.sector <> n.sector
    ));
    RETURN NULL;
END;
$$;

CREATE FUNCTION readiness_assets_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE readiness_assets;
    ELSE
        DELETE FROM readiness_assets r USING old_assets o WHERE r.asset_id = o.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER assets_readiness_insert AFTER INSERT ON assets
    REFERENCING NEW TABLE AS new_assets FOR EACH STATEMENT EXECUTE FUNCTION readiness_assets_inserted();
CREATE TRIGGER assets_readiness_update AFTER UPDATE ON assets
    REFERENCING OLD TABLE AS old_assets NEW TABLE AS new_assets
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_assets_updated();
CREATE TRIGGER assets_readiness_delete AFTER DELETE ON assets
    REFERENCING OLD TABLE AS old_assets FOR EACH STATEMENT EXECUTE FUNCTION readiness_assets_deleted();
CREATE TRIGGER assets_readiness_truncate AFTER TRUNCATE ON assets
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_assets_deleted();

-- Devices, registry side. Inserted devices only add (bulk onboarding of 10,000 devices: one grouped
-- update of their assets' rows, no recomputation); a deleted device, or a change of state, asset or
-- model, recomputes the assets it left and joined. A change of last_seen is the freshness trigger's.
CREATE FUNCTION readiness_devices_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH added AS (
        SELECT n.asset_id, m.sector, max(n.last_seen) AS newest_seen
        FROM new_devices n JOIN device_models m ON m.id = n.model_id
        WHERE n.state = 'active' AND n.asset_id IS NOT NULL
        GROUP BY n.asset_id, m.sector
    ), due AS (
        SELECT r.asset_id, added.newest_seen
        FROM readiness_assets r JOIN added ON added.asset_id = r.asset_id AND added.sector = r.sector
        WHERE NOT r.equipped OR added.newest_seen > r.newest_seen
           OR (r.newest_seen IS NULL AND added.newest_seen IS NOT NULL)
        ORDER BY r.asset_id
        FOR NO KEY UPDATE OF r
    )
    UPDATE readiness_assets r SET equipped = true, newest_seen = greatest(r.newest_seen, due.newest_seen)
    FROM due WHERE r.asset_id = due.asset_id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION readiness_devices_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM readiness_assets_refresh(ARRAY(
        SELECT DISTINCT moved.asset_id
        FROM old_devices o JOIN new_devices n USING (id)
        CROSS JOIN LATERAL (VALUES (o.asset_id), (n.asset_id)) AS moved (asset_id)
        WHERE moved.asset_id IS NOT NULL AND (o.state = 'active' OR n.state = 'active')
          AND (o.state, o.asset_id, o.model_id) IS DISTINCT FROM (n.state, n.asset_id, n.model_id)
    ));
    RETURN NULL;
END;
$$;

CREATE FUNCTION readiness_devices_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE readiness_assets SET equipped = false, newest_seen = NULL WHERE equipped;
    ELSE
        PERFORM readiness_assets_refresh(ARRAY(
            SELECT DISTINCT asset_id FROM old_devices WHERE state = 'active' AND asset_id IS NOT NULL
        ));
    END IF;
    RETURN NULL;
END;
$$;

-- Devices, freshness: everything readiness does with last_seen, in one function and one trigger, so
-- it moves with last_seen if that ever gets a table of its own. Ingest's write (ingest.sink,
-- _UPDATE_SEEN: one statement per batch, up to 5,000 devices, only ever forward) reaches an asset's
-- row only when it moves newest_seen by more than the granularity (or sets it for the first time);
-- a write that moves last_seen back (by hand, a test) recomputes the asset. Transition tables rule
-- out a column list (UPDATE OF last_seen), so the trigger runs for every update of devices and
-- finds nothing to do for the registry's own.
CREATE FUNCTION readiness_devices_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH seen AS (
        SELECT n.asset_id, m.sector, max(n.last_seen) AS newest_seen
        FROM new_devices n JOIN device_models m ON m.id = n.model_id
        WHERE n.state = 'active' AND n.asset_id IS NOT NULL AND n.last_seen IS NOT NULL
        GROUP BY n.asset_id, m.sector
    ), due AS (
        SELECT r.asset_id, seen.newest_seen
        FROM readiness_assets r JOIN seen ON seen.asset_id = r.asset_id AND seen.sector = r.sector
        WHERE r.newest_seen IS NULL OR r.newest_seen < seen.newest_seen - readiness_seen_granularity()
        ORDER BY r.asset_id
        FOR NO KEY UPDATE OF r
    )
    UPDATE readiness_assets r SET newest_seen = greatest(r.newest_seen, due.newest_seen)
    FROM due WHERE r.asset_id = due.asset_id;
    PERFORM readiness_assets_refresh(ARRAY(
        SELECT DISTINCT o.asset_id FROM old_devices o JOIN new_devices n USING (id)
        WHERE o.state = 'active' AND o.asset_id IS NOT NULL
          AND (n.last_seen < o.last_seen OR (n.last_seen IS NULL AND o.last_seen IS NOT NULL))
    ));
    RETURN NULL;
END;
$$;

CREATE TRIGGER devices_readiness_insert AFTER INSERT ON devices
    REFERENCING NEW TABLE AS new_devices FOR EACH STATEMENT EXECUTE FUNCTION readiness_devices_inserted();
CREATE TRIGGER devices_readiness_update AFTER UPDATE ON devices
    REFERENCING OLD TABLE AS old_devices NEW TABLE AS new_devices
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_devices_updated();
CREATE TRIGGER devices_readiness_delete AFTER DELETE ON devices
    REFERENCING OLD TABLE AS old_devices FOR EACH STATEMENT EXECUTE FUNCTION readiness_devices_deleted();
CREATE TRIGGER devices_readiness_truncate AFTER TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_devices_deleted();
CREATE TRIGGER devices_readiness_seen AFTER UPDATE ON devices
    REFERENCING OLD TABLE AS old_devices NEW TABLE AS new_devices
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_devices_seen();

-- A device model moved to another sector changes which devices fit their assets.
CREATE FUNCTION readiness_models_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM readiness_assets_refresh(ARRAY(
        SELECT DISTINCT d.asset_id
        FROM old_models o JOIN new_models n USING (id) JOIN devices d ON d.model_id = n.id
        WHERE o.sector <> n.sector AND d.state = 'active' AND d.asset_id IS NOT NULL
    ));
    RETURN NULL;
END;
$$;
CREATE TRIGGER device_models_readiness_update AFTER UPDATE ON device_models
    REFERENCING OLD TABLE AS old_models NEW TABLE AS new_models
    FOR EACH STATEMENT EXECUTE FUNCTION readiness_models_updated();

-- The rows of the assets already registered.
SELECT readiness_assets_refresh(NULL);
ANALYZE readiness_assets;
