-- What an EMQX 5 cluster reads to authenticate and authorise devices from the registry
-- (docs/deploy.md, "Device logins on EMQX"). EMQX cannot read Mosquitto's `$7$` hash string, but its
-- `pbkdf2` algorithm is the same computation: PBKDF2-HMAC-SHA512 over the secret with the salt's
-- raw bytes, compared as lowercase hex of the derived key. So the view only re-encodes what the
-- registry already stores: the digest as hex, the salt as bytes. One iteration count per EMQX
-- authenticator: hashes made with another count than Mosquitto's default (101) are left out (they
-- cannot log in through EMQX until their credentials are rotated).
CREATE VIEW emqx_device_credentials AS
SELECT d.external_id AS username,
       -- A device's MQTT client id is its username: another client id finds no row.
       d.external_id AS clientid,
       encode(decode(split_part(d.mqtt_secret_hash, '$', 5), 'base64'), 'hex') AS password_hash,
       decode(split_part(d.mqtt_secret_hash, '$', 4), 'base64') AS salt,
       false AS is_superuser
FROM devices d
WHERE d.state = 'active'
  AND d.mqtt_secret_hash LIKE '$7$101$%';

COMMENT ON VIEW emqx_device_credentials IS
    'EMQX 5 PostgreSQL authenticator: pbkdf2, mac_fun sha512, iterations 101, dk_length 64 (docs/deploy.md)';

-- The EMQX 5 PostgreSQL authorizer's rows for one client: (permission, action, topic), first match
-- wins. A device may publish only to its own telemetry topic and nothing else (no subscription at
-- all, which closes the shared-subscription theft of the security issue); a suspended or retired
-- device is denied everything. A username that is no device gets no rows, so EMQX goes on to the
-- next source (the service accounts' file) and then to `no_match = deny`.
CREATE FUNCTION emqx_device_acl(client_username text, topic_prefix text)
RETURNS TABLE (permission text, action text, topic text)
LANGUAGE sql STABLE STRICT
AS $$
    SELECT r.permission, r.action, r.topic
    FROM devices d
    CROSS JOIN LATERAL (VALUES
        (1, 'allow', 'publish', topic_prefix || '/devices/' || d.external_id || '/telemetry'),
        (2, 'deny', 'all', '#')
    ) AS r (rank, permission, action, topic)
    WHERE d.external_id = client_username AND (r.rank = 2 OR d.state = 'active')
    ORDER BY r.rank
$$;
