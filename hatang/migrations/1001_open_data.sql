-- Open data (docs/open-data.md): whether an organisation lets the public GeoJSON name its devices.
-- Off by default: the public surface shows assets and their readiness, never a device identifier
-- unless the owning organisation has said yes (an admin sets it; the change is audited).
ALTER TABLE organisations ADD COLUMN open_data_device_ids boolean NOT NULL DEFAULT false;
