-- Costs that stay flat at city scale (issue 15; docs/capacity.md has the figures).

-- A time range over all devices (the rollup refresh every 30 s, late re-aggregation, a city-wide
-- /v1/readings/aggregate) had no index: readings_key leads with device_id, so each of them read the
-- whole active one-day chunk, and the work per refresh grew with the day. A BRIN index on time
-- serves those ranges from a few hundred bytes per chunk: readings arrive in time order, so each
-- 128-page range covers a narrow span of time, and an insert only widens its range's summary (its
-- insert cost is measured beside the plain COPY by `hatang bench city`). TimescaleDB creates it
-- on every chunk.
CREATE INDEX readings_time_brin ON readings USING brin (time) WITH (autosummarize = on);

-- The readings_late trigger (0400) ran plpgsql for every reading older than two minutes: every row
-- of a logger's offline pack, every replay. TimescaleDB forbids transition tables on hypertables,
-- so a statement trigger cannot see the rows; the writers (ingest.sink.write_batch, which replays
-- use too) record the late minutes of each batch in one statement instead.
DROP TRIGGER IF EXISTS readings_late ON readings;  -- gone already where rollups.ensure chose continuous aggregates
DROP FUNCTION IF EXISTS readings_invalidate_rollups();

-- The ingest workers' device caches follow an asset's move to another area by reading the devices
-- of assets changed since their last look (ingest.queries), not by reloading every device.
CREATE INDEX assets_updated_idx ON assets (updated_at);
