-- Read-only views for support, and the role that may read them and nothing
-- else. Views run with their owner's rights, so lsqbridge_support needs no
-- grant on the tables behind them, and the views never show a secret column.
-- docs/audit.md documents each view; a test runs its examples as the role.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lsqbridge_support') THEN
        CREATE ROLE lsqbridge_support NOLOGIN;
    END IF;
END
$$;
-- +goose StatementEnd

CREATE SCHEMA audit;

-- One row per link: which record belongs to which ticket, in what state.
-- contact_email/contact_phone come from the ticket-creating action (or the
-- record's first webhook), so a link can be found by the customer's e-mail.
CREATE VIEW audit.links AS
SELECT l.integration_id,
       l.id AS link_id,
       l.record_kind,
       l.record_id,
       l.lead_id,
       l.ticket_id,
       l.contact_id,
       coalesce(ct.email, ev.first_payload->>'EmailAddress', ev.first_payload->'After'->>'EmailAddress')::text AS contact_email,
       coalesce(ct.phone, ev.first_payload->>'Phone', ev.first_payload->'After'->>'Phone')::text AS contact_phone,
       l.owner_email,
       l.labels,
       l.fields,
       l.state,
       l.origin,
       l.paused_at,
       l.paused_reason,
       l.created_at,
       l.updated_at,
       ev.last_event_at::timestamptz AS last_event_at,
       coalesce(ac.open_actions, 0)::bigint AS open_actions,
       coalesce(ac.dead_actions, 0)::bigint AS dead_actions
FROM links l
LEFT JOIN LATERAL (
    SELECT nullif(o.payload->>'email', '') AS email, nullif(o.payload->>'phone', '') AS phone
    FROM outbox o
    WHERE o.integration_id = l.integration_id AND o.link_id = l.id AND o.kind = 'limechat.create_ticket'
    ORDER BY o.id LIMIT 1
) ct ON true
LEFT JOIN LATERAL (
    SELECT max(e.received_at) AS last_event_at,
           (array_agg(e.payload ORDER BY e.id) FILTER (WHERE e.source = 'leadsquared'))[1] AS first_payload
    FROM inbound_events e
    WHERE e.integration_id = l.integration_id AND e.link_id = l.id
) ev ON true
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.status IN ('pending', 'delivering')) AS open_actions,
           count(*) FILTER (WHERE o.status = 'dead') AS dead_actions
    FROM outbox o
    WHERE o.integration_id = l.integration_id AND o.link_id = l.id
) ac ON true;

-- Everything that happened to one link, inbound and outbound, in order of
-- "at": when an event was received, or when an action was delivered (or
-- enqueued, while it is not delivered).
CREATE VIEW audit.link_timeline AS
SELECT e.integration_id,
       e.link_id,
       e.received_at AS at,
       'inbound'::text AS direction,
       e.source AS platform,
       e.event_type AS what,
       e.outcome,
       e.detail,
       e.id::bigint AS event_id,
       NULL::bigint AS action_id,
       0::integer AS attempts
FROM inbound_events e
WHERE e.link_id IS NOT NULL
UNION ALL
SELECT o.integration_id,
       o.link_id,
       coalesce(o.delivered_at, o.created_at) AS at,
       'outbound'::text AS direction,
       split_part(o.kind, '.', 1) AS platform,
       o.kind AS what,
       o.status || CASE WHEN o.outcome <> '' THEN ':' || o.outcome ELSE '' END AS outcome,
       o.last_error AS detail,
       o.caused_by AS event_id,
       o.id AS action_id,
       o.attempts
FROM outbox o;

-- Every inbound delivery with its outcome, including those tied to no link
-- (rejected, unlinked, ignored): the answer to "did the webhook arrive?".
CREATE VIEW audit.events AS
SELECT e.integration_id,
       e.id AS event_id,
       e.received_at,
       e.occurred_at,
       e.source,
       e.event_type,
       e.link_id,
       e.outcome,
       e.detail,
       coalesce(e.payload::text, e.payload_text, '')::text AS body
FROM inbound_events e;

-- Actions that failed at least once and are not yet delivered, and dead ones.
CREATE VIEW audit.failing_actions AS
SELECT o.integration_id,
       o.id AS action_id,
       o.link_id,
       l.record_kind,
       l.record_id,
       l.ticket_id,
       o.kind,
       o.status,
       o.outcome,
       o.attempts,
       o.next_attempt_at,
       o.last_error,
       o.created_at,
       (now() - o.created_at)::interval AS age
FROM outbox o
JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
WHERE o.status = 'dead'
   OR (o.status IN ('pending', 'delivering') AND o.attempts > 0 AND o.last_error <> '');

-- People named on one platform with no counterpart on the other, from the
-- events that could not be mapped. person is the e-mail, or the platform id
-- when the directory knows no e-mail for it; matched_now says whether the
-- directory has both sides for that e-mail today (fixed since).
CREATE VIEW audit.unmatched_agents AS
WITH misses AS (
    SELECT e.integration_id,
           e.source,
           e.received_at,
           e.link_id,
           e.detail,
           lower(substring(e.detail FROM '[^[:space:];,]+@[^[:space:];,]+')) AS email
    FROM inbound_events e
    WHERE e.outcome = 'unmatched_agent'
)
SELECT m.integration_id,
       coalesce(m.email, substring(m.detail FROM '((?:LeadSquared user|LimeChat agent) [^[:space:]]+)'), '')::text AS person,
       m.email,
       m.source AS seen_on,
       (CASE WHEN m.email IS NULL THEN 'directory'
             WHEN m.source = 'leadsquared' THEN 'limechat'
             ELSE 'leadsquared' END)::text AS missing_on,
       count(*)::bigint AS occurrences,
       min(m.received_at)::timestamptz AS first_seen_at,
       max(m.received_at)::timestamptz AS last_seen_at,
       (array_agg(m.link_id ORDER BY m.received_at DESC))[1]::bigint AS last_link_id,
       (array_agg(m.detail ORDER BY m.received_at DESC))[1]::text AS last_detail,
       EXISTS (SELECT FROM agents a
               WHERE a.integration_id = m.integration_id AND a.email = m.email
                 AND a.lsq_user_id IS NOT NULL AND a.limechat_agent_id IS NOT NULL)::boolean AS matched_now
FROM misses m
GROUP BY m.integration_id, 2, m.email, m.source;

-- How far behind each integration is.
CREATE VIEW audit.sync_lag AS
SELECT i.id AS integration_id,
       (i.disabled_at IS NOT NULL)::boolean AS disabled,
       i.lsq_paused_until,
       (SELECT count(*) FROM links l WHERE l.integration_id = i.id AND l.state = 'pending_ticket')::bigint AS links_waiting_for_ticket,
       (SELECT count(*) FROM outbox o WHERE o.integration_id = i.id AND o.status IN ('pending', 'delivering'))::bigint AS open_actions,
       (SELECT now() - min(o.created_at) FROM outbox o WHERE o.integration_id = i.id AND o.status IN ('pending', 'delivering'))::interval AS oldest_open_age,
       (SELECT count(*) FROM outbox o WHERE o.integration_id = i.id AND o.status IN ('pending', 'delivering')
           AND o.attempts > 0 AND o.last_error <> '')::bigint AS failing_actions,
       (SELECT count(*) FROM outbox o WHERE o.integration_id = i.id AND o.status = 'dead')::bigint AS dead_actions,
       (SELECT count(*) FROM outbox o WHERE o.integration_id = i.id AND o.status = 'delivered'
           AND o.delivered_at > now() - interval '1 hour')::bigint AS delivered_last_hour,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.delivered_at - o.created_at))
          FROM outbox o WHERE o.integration_id = i.id AND o.status = 'delivered'
           AND o.delivered_at > now() - interval '1 hour')::float8 AS p50_delivery_seconds,
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM o.delivered_at - o.created_at))
          FROM outbox o WHERE o.integration_id = i.id AND o.status = 'delivered'
           AND o.delivered_at > now() - interval '1 hour')::float8 AS p95_delivery_seconds,
       (SELECT max(e.received_at) FROM inbound_events e WHERE e.integration_id = i.id AND e.source = 'leadsquared')::timestamptz AS last_leadsquared_event_at,
       (SELECT max(e.received_at) FROM inbound_events e WHERE e.integration_id = i.id AND e.source = 'limechat')::timestamptz AS last_limechat_event_at
FROM integrations i;

GRANT USAGE ON SCHEMA audit TO lsqbridge_support;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO lsqbridge_support;
-- Views a later migration adds to audit are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT ON TABLES TO lsqbridge_support;

-- +goose Down
ALTER DEFAULT PRIVILEGES IN SCHEMA audit REVOKE SELECT ON TABLES FROM lsqbridge_support;
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM lsqbridge_support;
REVOKE ALL ON SCHEMA audit FROM lsqbridge_support;
DROP SCHEMA audit CASCADE;
-- The role is cluster-wide and may serve other lsqbridge databases on the
-- same server, so Down leaves it in place.
