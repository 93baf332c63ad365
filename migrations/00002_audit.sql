-- Read-only views for support, and the role that may read them and nothing
-- else. Views run with their owner's rights, so lsqbridge_support needs no
-- grant on the tables behind them. docs/audit.md documents each view.

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
CREATE VIEW audit.links AS
SELECT l.integration_id,
       l.id AS link_id,
       l.record_kind,
       l.record_id,
       l.lead_id,
       l.ticket_id,
       l.contact_id,
       l.owner_email,
       l.labels,
       l.fields,
       l.state,
       l.origin,
       l.paused_reason,
       l.created_at,
       l.updated_at,
       (SELECT max(e.received_at) FROM inbound_events e
         WHERE e.integration_id = l.integration_id AND e.link_id = l.id) AS last_event_at,
       (SELECT count(*) FROM outbox o
         WHERE o.integration_id = l.integration_id AND o.link_id = l.id
           AND o.status IN ('pending', 'delivering')) AS open_actions,
       (SELECT count(*) FROM outbox o
         WHERE o.integration_id = l.integration_id AND o.link_id = l.id
           AND o.status = 'dead') AS dead_actions
FROM links l;

-- Everything that happened to one link, inbound and outbound, in order.
CREATE VIEW audit.link_timeline AS
SELECT e.integration_id,
       e.link_id,
       e.received_at AS at,
       'inbound'::text AS direction,
       e.source AS platform,
       e.event_type AS what,
       e.outcome,
       e.detail,
       e.id AS event_id,
       NULL::bigint AS action_id,
       0 AS attempts
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
       now() - o.created_at AS age
FROM outbox o
JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
WHERE o.status = 'dead'
   OR (o.status IN ('pending', 'delivering') AND o.attempts > 0 AND o.last_error <> '');

-- E-mails seen on one platform with no counterpart on the other.
CREATE VIEW audit.unmatched_agents AS
SELECT e.integration_id,
       lower(substring(e.detail FROM '[^[:space:]]+@[^[:space:]]+')) AS email,
       e.source AS seen_on,
       count(*) AS occurrences,
       max(e.received_at) AS last_seen_at,
       (array_agg(e.link_id ORDER BY e.received_at DESC))[1] AS last_link_id
FROM inbound_events e
WHERE e.outcome = 'unmatched_agent'
GROUP BY 1, 2, 3;

-- How far behind each integration is.
CREATE VIEW audit.sync_lag AS
SELECT i.id AS integration_id,
       i.disabled_at IS NOT NULL AS disabled,
       i.lsq_paused_until,
       (SELECT count(*) FROM outbox o WHERE o.integration_id = i.id AND o.status IN ('pending', 'delivering')) AS open_actions,
       (SELECT now() - min(o.created_at) FROM outbox o WHERE o.integration_id = i.id AND o.status IN ('pending', 'delivering')) AS oldest_open_age,
       (SELECT count(*) FROM outbox o WHERE o.integration_id = i.id AND o.status = 'dead') AS dead_actions,
       (SELECT count(*) FROM outbox o WHERE o.integration_id = i.id AND o.status = 'delivered'
           AND o.delivered_at > now() - interval '1 hour') AS delivered_last_hour,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.delivered_at - o.created_at))
          FROM outbox o WHERE o.integration_id = i.id AND o.status = 'delivered'
           AND o.delivered_at > now() - interval '1 hour') AS p50_delivery_seconds,
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM o.delivered_at - o.created_at))
          FROM outbox o WHERE o.integration_id = i.id AND o.status = 'delivered'
           AND o.delivered_at > now() - interval '1 hour') AS p95_delivery_seconds,
       (SELECT max(e.received_at) FROM inbound_events e WHERE e.integration_id = i.id AND e.source = 'leadsquared') AS last_leadsquared_event_at,
       (SELECT max(e.received_at) FROM inbound_events e WHERE e.integration_id = i.id AND e.source = 'limechat') AS last_limechat_event_at
FROM integrations i;

GRANT USAGE ON SCHEMA audit TO lsqbridge_support;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO lsqbridge_support;

-- +goose Down
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM lsqbridge_support;
REVOKE ALL ON SCHEMA audit FROM lsqbridge_support;
DROP SCHEMA audit CASCADE;
-- The role is cluster-wide and may serve other lsqbridge databases on the
-- same server, so Down leaves it in place.
