-- Stream tickets (docs/security.md, finding 6): a browser cannot put `Authorization` on a WebSocket or
-- EventSource request, and a key in the URL ends up in logs, proxies and browser history. It fetches
-- a ticket with its key instead (POST /v1/streams/tickets) and opens the stream with `?ticket=`:
-- single use (redeeming deletes the row), valid for seconds, and stored only as its SHA-256, here
-- rather than in one API process's memory so any replica can redeem it.
CREATE TABLE stream_tickets (
    digest      bytea PRIMARY KEY,
    api_key_id  bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX stream_tickets_expiry_idx ON stream_tickets (expires_at);
