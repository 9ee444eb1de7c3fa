-- Area history without gaps: the link a re-parenting closes ends at the very instant the new one
-- starts (0100 read clock_timestamp() twice, leaving microsecond gaps between periods).
CREATE OR REPLACE FUNCTION track_area_links() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    at timestamptz := clock_timestamp();
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.retired_at IS NULL THEN
            INSERT INTO area_links (area_id, parent_id, valid_from) VALUES (NEW.id, NEW.parent_id, NEW.created_at);
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.retired_at IS DISTINCT FROM OLD.retired_at THEN
        UPDATE area_links SET valid_to = at WHERE area_id = NEW.id AND valid_to IS NULL;
        IF NEW.retired_at IS NULL THEN
            INSERT INTO area_links (area_id, parent_id, valid_from) VALUES (NEW.id, NEW.parent_id, at);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
