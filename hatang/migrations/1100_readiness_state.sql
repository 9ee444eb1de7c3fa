-- Readiness per asset, kept by the database (issue 15; docs/readiness.md, "The per-asset state").
-- /v1/readiness joined every essential asset to every active device on each computation: 5.2 s p50,
-- 9.0 s p99 at 1,000,000 essential assets and 2,000,000 devices (docs/capacity.md, "A million and two million devices").
-- The live counts and the snapshots now read one narrow row per asset instead; these triggers keep
-- it exact in the transaction that changes the registry, set-based (statement triggers with
-- transition tables), and keep its freshness from ingest's last_seen writes at a granularity.
--
-- One row per asset (essential or not, so that every path can lock the row it recomputes):
-- * equipped: the asset has an active device of a model of its own sector (a "fitting" device);
-- * newest_seen: the newest last_seen of those devices, exact after every registry change, and
--   moved forward by ingest's writes only when it enters a new bucket of readiness_seen_granularity()
--   (always when it was NULL): it lies in (true newest - granularity, true newest], so an asset is
--   ready (newest_seen >= now - window) exactly as defined except that it may stop counting up to
--   one granularity before its last reading leaves the window.
-- No foreign key to assets: the asset triggers insert and delete the rows, and a foreign key would
-- add a lookup per row to every bulk asset load.
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

-- Ingest's writes move an asset's newest_seen only when its newest last_seen enters a new bucket of
-- readiness_seen_granularity(), 5 minutes (0.35% of the 24-hour freshness window): a device
-- reporting every minute rewrites its asset's row every 5 minutes, not at each last_seen write (60 s
-- apart, ingest.seen), and a write that stays within its bucket is not even looked up. So
-- newest_seen >= readiness_seen_bucket(true newest) > true newest - 5 minutes.
CREATE FUNCTION readiness_seen_granularity() RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN interval '5 minutes';
CREATE FUNCTION readiness_seen_bucket(seen timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin(readiness_seen_granularity(), seen, timestamptz '2000-01-01 00:00:00+00');

-- Recompute the rows of these assets from the registry, exactly. Locks the rows first (in id order,
-- so that concurrent writers take turns instead of deadlocking), then recomputes in a statement of
-- its own: under READ COMMITTED its snapshot then holds whatever a writer it waited for committed.
-- NULL or empty: nothing to do.
CREATE FUNCTION readiness_assets_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
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

-- Every row recomputed from the registry in one pass (the backfill below; a repair by hand if the
-- triggers were ever disabled): rows of assets that are gone are deleted.
CREATE FUNCTION readiness_assets_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE readiness_assets IN SHARE ROW EXCLUSIVE MODE;
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

-- Devices, inserted and deleted. Inserted devices only add (bulk onboarding of 10,000 devices: one
-- grouped update of their assets' rows, no recomputation); a deleted active device recomputes its
-- asset.
CREATE FUNCTION readiness_devices_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One update per asset, its conditions rechecked on the newest row version if a concurrent
    -- transaction changed it first (READ COMMITTED); greatest() keeps what that one wrote.
    WITH added AS MATERIALIZED (
        SELECT n.asset_id, m.sector, max(n.last_seen) AS newest_seen
        FROM new_devices n JOIN device_models m ON m.id = n.model_id
        WHERE n.state = 'active' AND n.asset_id IS NOT NULL
        GROUP BY n.asset_id, m.sector
        ORDER BY n.asset_id
    )
    UPDATE readiness_assets r SET equipped = true, newest_seen = greatest(r.newest_seen, added.newest_seen)
    FROM added
    WHERE r.asset_id = added.asset_id AND r.sector = added.sector
      AND (NOT r.equipped OR added.newest_seen > r.newest_seen
           OR (r.newest_seen IS NULL AND added.newest_seen IS NOT NULL));
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

-- Devices, updated: the registry's changes and ingest's last_seen writes, in one trigger, because
-- transition tables rule out a column list (UPDATE OF last_seen): every update of devices runs it,
-- and pairing the old and new rows (one hash join) is most of its cost, paid once.
-- * A change of state, asset or model recomputes the assets the device left and joined; so does a
--   write that moves last_seen back (by hand, a test: ingest only ever moves it forward).
-- * Freshness (the seen and bumped steps; all that readiness does with last_seen, which moves
--   with last_seen if that ever gets a table of its own): ingest's write (ingest.sink, _UPDATE_SEEN:
--   one statement per batch, up to 5,000 devices) is looked up only for the devices whose last_seen
--   entered a new bucket (or was NULL), and reaches an asset's row only when that moves its
--   newest_seen into a new bucket.
CREATE FUNCTION readiness_devices_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    recompute bigint[];
BEGIN
    WITH moved AS MATERIALIZED (
        SELECT o.state AS was_state, o.asset_id AS was_asset, o.last_seen AS was_seen,
               (o.state, o.asset_id, o.model_id) IS DISTINCT FROM (n.state, n.asset_id, n.model_id) AS registry,
               n.state, n.asset_id, n.model_id, n.last_seen
        FROM old_devices o JOIN new_devices n USING (id)
        WHERE (o.state, o.asset_id, o.model_id, o.last_seen)
              IS DISTINCT FROM (n.state, n.asset_id, n.model_id, n.last_seen)
    ), seen AS MATERIALIZED (
        SELECT v.asset_id, m.sector, max(v.last_seen) AS newest_seen
        FROM moved v JOIN device_models m ON m.id = v.model_id
        WHERE NOT v.registry AND v.state = 'active' AND v.asset_id IS NOT NULL
          AND (v.was_seen IS NULL OR readiness_seen_bucket(v.last_seen) > readiness_seen_bucket(v.was_seen))
        GROUP BY v.asset_id, m.sector
        ORDER BY v.asset_id
    ), bumped AS (
        UPDATE readiness_assets r SET newest_seen = greatest(r.newest_seen, seen.newest_seen)
        FROM seen
        WHERE r.asset_id = seen.asset_id AND r.sector = seen.sector
          AND (r.newest_seen IS NULL OR r.newest_seen < readiness_seen_bucket(seen.newest_seen))
    )
    SELECT array_agg(DISTINCT stale.asset_id) INTO recompute
    FROM moved v
    CROSS JOIN LATERAL (VALUES (CASE WHEN v.was_state = 'active' THEN v.was_asset END),
                               (CASE WHEN v.state = 'active' THEN v.asset_id END)) AS stale (asset_id)
    WHERE stale.asset_id IS NOT NULL
      AND (v.registry OR v.last_seen < v.was_seen OR (v.last_seen IS NULL AND v.was_seen IS NOT NULL));
    PERFORM readiness_assets_refresh(recompute);
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
SELECT readiness_assets_rebuild();
ANALYZE readiness_assets;
