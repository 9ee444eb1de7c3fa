-- Ingest writes devices.last_seen once per batch for up to thousands of devices. Neither registry
-- trigger on devices has anything to do for that write, so neither runs for it any more:
-- * devices_touch (0100) built two jsonb documents per row to find out that only last_seen changed;
--   the WHEN clause below is evaluated in C and skips the function for any update that moves
--   last_seen. Nothing but ingest writes last_seen, and ingest writes nothing else.
-- * devices_notify (0001) woke every ingest worker's cache refresh after every batch; it now fires
--   for inserts, deletes, truncates and updates of any column but last_seen and updated_at.
DROP TRIGGER devices_touch ON devices;
CREATE TRIGGER devices_touch BEFORE UPDATE ON devices
    FOR EACH ROW WHEN (OLD.last_seen IS NOT DISTINCT FROM NEW.last_seen)
    EXECUTE FUNCTION touch_updated_at();

DROP TRIGGER devices_notify ON devices;
CREATE TRIGGER devices_notify
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF
        external_id, model_id, organisation_id, asset_id, state, firmware_version, metadata,
        mqtt_secret_hash, created_at, credentials_rotated_at
    ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();
