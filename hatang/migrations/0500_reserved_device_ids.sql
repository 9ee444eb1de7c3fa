-- Device ids starting with "hatang" belong to the platform's own broker accounts (hatang-ingest,
-- hatang-api, hatang-simulator and their client ids): a device named like one would share its
-- password-file line, its ACL and its client id (registry/mosquitto.py RESERVED_PREFIX). The API and
-- bulk validation refuse such ids with a 4xx first; this constraint makes it true of every writer.
-- NOT VALID: a row that predates it is not rejected here (the broker renderers skip it instead);
-- `ALTER TABLE devices VALIDATE CONSTRAINT devices_external_id_not_reserved` checks old rows.
ALTER TABLE devices ADD CONSTRAINT devices_external_id_not_reserved
    CHECK (external_id NOT LIKE 'hatang%') NOT VALID;
