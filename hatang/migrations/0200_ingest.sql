-- Ingest's additions to the core schema (0001_core.sql). docs/ingest.md explains the decisions.

-- The dead-letter API lists newest first (keyset on id) and filters by device and by reason.
CREATE INDEX dead_letters_device_idx ON dead_letters (device_id, id DESC) WHERE device_id IS NOT NULL;
CREATE INDEX dead_letters_reason_id_idx ON dead_letters (reason, id DESC);
-- Letters still waiting for a replay, the admins' usual question.
CREATE INDEX dead_letters_pending_idx ON dead_letters (id DESC) WHERE replayed_at IS NULL;
