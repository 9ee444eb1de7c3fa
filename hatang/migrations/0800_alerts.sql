-- Alerts (docs/alerts.md): rules are data, alerts have one lifecycle, notifications leave through an
-- outbox. The guarantees live here, not in the evaluator's memory:
-- * exactly one open (or acknowledged) alert per (rule, subject): a partial unique index, so a
--   redelivered reading, a restarted evaluator or two evaluators at once cannot open a second one;
-- * a notification is written in the same transaction as the alert event it reports (outbox), so
--   an event is never lost and never notified without having happened.

CREATE TABLE alert_rules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    name_vi         text NOT NULL CHECK (length(name_vi) BETWEEN 1 AND 200),
    name_en         text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('threshold', 'silence', 'rejection_rate')),
    severity        text NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'info')),
    -- What the rule watches: device, asset, model, sector, area (with its descendants), organisation.
    scope_kind      text NOT NULL CHECK (scope_kind IN ('device', 'asset', 'model', 'sector', 'area', 'organisation')),
    scope_value     text NOT NULL DEFAULT '',
    -- threshold: metric, operator, limits, clear levels (hysteresis) and how long the breach holds.
    metric          text,
    operator        text CHECK (operator IN ('above', 'below', 'outside')),
    low             double precision,
    high            double precision,
    clear_low       double precision,
    clear_high      double precision,
    -- threshold: hold; silence: silence duration (NULL: 3 x the model's reporting interval).
    duration_s      double precision CHECK (duration_s >= 0),
    -- silence: 'device' or 'asset'; rejection_rate: 'device' or 'organisation'.
    subject         text NOT NULL DEFAULT 'device' CHECK (subject IN ('device', 'asset', 'organisation')),
    -- rejection_rate: dead letters per hour above which the alert opens.
    rate_per_hour   double precision CHECK (rate_per_hour >= 0),
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE INDEX alert_rules_organisation_idx ON alert_rules (organisation_id, id) WHERE deleted_at IS NULL;

-- Rule changes wake every evaluator (one notification per statement).
CREATE FUNCTION notify_alert_rules_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hatang_alert_rules', TG_OP);
    RETURN NULL;
END;
$$;
CREATE TRIGGER alert_rules_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alert_rules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_alert_rules_change();

CREATE TABLE alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id          bigint NOT NULL REFERENCES alert_rules (id),
    organisation_id  bigint NOT NULL REFERENCES organisations (id),
    subject_kind     text NOT NULL CHECK (subject_kind IN ('device', 'asset', 'organisation')),
    subject_id       bigint NOT NULL,
    -- Denormalised for filters and the map: the subject's sector, area and position when it opened.
    sector           text,
    area_id          bigint REFERENCES areas (id),
    lat              double precision,
    lon              double precision,
    severity         text NOT NULL,
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    -- The reading (or silence, or rate) that opened it, and the instant the condition began.
    value            double precision,
    since            timestamptz NOT NULL,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    acknowledge_note text,
    resolved_at      timestamptz,
    resolved_by      text,
    resolve_note     text,
    -- When the reading behind the opening was committed (latency metric; NULL for silence).
    source_committed_at timestamptz
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (rule_id, subject_kind, subject_id)
    WHERE state IN ('open', 'acknowledged');
CREATE INDEX alerts_organisation_idx ON alerts (organisation_id, id DESC);
CREATE INDEX alerts_state_idx ON alerts (state, id DESC) WHERE state IN ('open', 'acknowledged');

-- Every transition of an alert, in order: what the streams and notifications report.
CREATE TABLE alert_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    kind      text NOT NULL CHECK (kind IN ('opened', 'acknowledged', 'resolved')),
    actor     text NOT NULL,
    note      text NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, id);

-- Where an organisation's notifications go: webhooks (HMAC-signed) and e-mail addresses.
CREATE TABLE notification_channels (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    kind            text NOT NULL CHECK (kind IN ('webhook', 'email')),
    target          text NOT NULL CHECK (length(target) BETWEEN 3 AND 2000),
    -- The webhook's HMAC key (shown once at creation, like an API key; needed to sign, so kept).
    secret          text,
    min_severity    text NOT NULL DEFAULT 'info' CHECK (min_severity IN ('critical', 'major', 'minor', 'info')),
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_channels_organisation_idx ON notification_channels (organisation_id);

-- The outbox: one row per (event, channel), written with the event; delivered at least once, in
-- order per (channel, alert).
CREATE TABLE notification_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id      bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    alert_id        bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    UNIQUE (event_id, channel_id)
);
CREATE INDEX notification_outbox_pending_idx ON notification_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX notification_outbox_order_idx ON notification_outbox (channel_id, alert_id, id) WHERE delivered_at IS NULL;

-- Every delivery attempt, kept for the API's delivery log.
CREATE TABLE notification_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES notification_outbox (id) ON DELETE CASCADE,
    channel_id  bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    ok          boolean NOT NULL,
    status      integer,
    error       text
);
CREATE INDEX notification_deliveries_channel_idx ON notification_deliveries (channel_id, id DESC);

-- Alert events wake the API's streams (payload: the event id).
CREATE FUNCTION notify_alert_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hatang_alert_events', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER alert_events_notify AFTER INSERT ON alert_events
    FOR EACH ROW EXECUTE FUNCTION notify_alert_event();

-- New outbox rows wake the notifiers.
CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hatang_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER notification_outbox_notify AFTER INSERT ON notification_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
