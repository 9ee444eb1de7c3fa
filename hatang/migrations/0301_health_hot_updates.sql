-- Ingest rewrites devices.last_seen and latest_readings once per batch for every device and metric
-- in it: with a city-sized fleet, thousands of rows per batch (bench ingest --devices 20000: 5,000
-- devices a batch, 30 µs of PostgreSQL CPU per message, most of it these two writes).
-- * devices_active_asset_idx carried last_seen (for readiness's index-only scans), so every
--   last_seen write was a non-HOT update: a new tuple and an entry in each of the devices table's
--   eight indexes. Under ingest the heap pages are never all-visible anyway, so the index-only scan
--   fetched the heap regardless: the index keeps model_id only.
-- * fillfactor 70 leaves room on each page for the new tuple version, so the update is HOT (no
--   index entries at all) and pruned in place. Existing pages keep their old fill until rewritten
--   (docs/operations.md: VACUUM FULL or pg_repack in a maintenance window).
DROP INDEX devices_active_asset_idx;
CREATE INDEX devices_active_asset_idx ON devices (asset_id) INCLUDE (model_id)
    WHERE state = 'active' AND asset_id IS NOT NULL;
ALTER TABLE devices SET (fillfactor = 70);
ALTER TABLE latest_readings SET (fillfactor = 70);
