-- The registry's additions to the core schema (0001_core.sql): updated_at kept by the database,
-- area history, credential bookkeeping, and the indexes the API's filters and the broker render use.
-- docs/registry.md explains the decisions.

-- Every change to a device, asset or organisation row bumps updated_at, whoever makes it: the ingest
-- device cache refreshes incrementally by updated_at after a NOTIFY. clock_timestamp(), not now(),
-- so the value is as close to the commit as a row trigger can get. One exception: an update that
-- changes nothing but devices.last_seen (ingest's own write, once per batch) does not bump it, or
-- every batch would invalidate the cache it is served from.
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'devices'
       AND (to_jsonb(NEW) - 'last_seen' - 'updated_at') = (to_jsonb(OLD) - 'last_seen' - 'updated_at') THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$$;
CREATE TRIGGER devices_touch BEFORE UPDATE ON devices
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER assets_touch BEFORE UPDATE ON assets
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER organisations_touch BEFORE UPDATE ON organisations
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE INDEX devices_updated_idx ON devices (updated_at);
CREATE INDEX devices_state_idx ON devices (state);
CREATE INDEX devices_model_idx ON devices (model_id);
ALTER TABLE devices ADD COLUMN credentials_rotated_at timestamptz;

CREATE INDEX api_keys_organisation_idx ON api_keys (organisation_id);
CREATE INDEX audit_log_organisation_idx ON audit_log (organisation_id, id DESC);

-- Areas: `areas.parent_id` is the current parent; `area_links` is the whole history of parents, kept
-- by the trigger below, so re-parenting (the 2025 merger abolished the district level) and retiring
-- are data changes that lose nothing: "which district held this commune on 1 March 2024" stays a query.
ALTER TABLE areas ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE areas ADD COLUMN name_en text NOT NULL DEFAULT '';
CREATE INDEX areas_parent_idx ON areas (parent_id);

CREATE TABLE area_links (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area_id     bigint NOT NULL REFERENCES areas (id),
    parent_id   bigint REFERENCES areas (id),
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
-- At most one open link per area.
CREATE UNIQUE INDEX area_links_open_idx ON area_links (area_id) WHERE valid_to IS NULL;
CREATE INDEX area_links_parent_idx ON area_links (parent_id);

CREATE FUNCTION track_area_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.retired_at IS NULL THEN
            INSERT INTO area_links (area_id, parent_id, valid_from) VALUES (NEW.id, NEW.parent_id, NEW.created_at);
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.retired_at IS DISTINCT FROM OLD.retired_at THEN
        UPDATE area_links SET valid_to = clock_timestamp() WHERE area_id = NEW.id AND valid_to IS NULL;
        IF NEW.retired_at IS NULL THEN
            INSERT INTO area_links (area_id, parent_id, valid_from) VALUES (NEW.id, NEW.parent_id, clock_timestamp());
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER areas_links AFTER INSERT OR UPDATE ON areas
    FOR EACH ROW EXECUTE FUNCTION track_area_links();
CREATE TRIGGER areas_touch BEFORE UPDATE ON areas
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
