-- What faults need: deliveries stored whatever their bytes, retries by time
-- rather than by count, crash loops counted, and held links visible.
-- Additive only (expand): a binary one release older keeps working on it.

-- +goose Up
-- The body exactly as received. payload (jsonb) keeps a cleaned copy only
-- where the body is JSON Postgres can store; payload_text is no longer
-- written. A batch delivery's body is stored once, on its first record's
-- row; the rows of its other records point at it (batch_of) and keep their
-- own record as payload.
ALTER TABLE inbound_events ADD COLUMN raw bytea;
ALTER TABLE inbound_events ADD COLUMN batch_of bigint;
-- A delivery stored with outcome error is applied again later; this counts
-- the tries, and retry_at says when the next one is due.
ALTER TABLE inbound_events ADD COLUMN apply_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE inbound_events ADD COLUMN retry_at timestamptz;
CREATE INDEX inbound_events_retry ON inbound_events (retry_at) WHERE outcome = 'error';

-- When the action first failed for a reason that may pass (transport,
-- timeout, 5xx, 429): transient failures are retried until RetryFor after
-- this, whatever the number of attempts.
ALTER TABLE outbox ADD COLUMN first_failed_at timestamptz;
-- How many times a relay stopped mid-delivery of this action (its lease
-- expired): an action that keeps killing its relay ends dead.
ALTER TABLE outbox ADD COLUMN crashes integer NOT NULL DEFAULT 0;
-- Dead actions hold their link: the claim looks for them per link.
CREATE INDEX outbox_held ON outbox (integration_id, link_id, id) WHERE status = 'dead';

-- The body as support can read it: the stored JSON, else the raw bytes
-- with non-printable ones escaped. New columns go last (OR REPLACE keeps
-- the old ones, so readers of the old view keep working).
CREATE OR REPLACE VIEW audit.events AS
SELECT e.integration_id,
       e.id AS event_id,
       e.received_at,
       e.occurred_at,
       e.source,
       e.event_type,
       e.link_id,
       e.outcome,
       e.detail,
       coalesce(e.payload::text, e.payload_text, encode(e.raw, 'escape'), '')::text AS body,
       e.raw AS raw_body,
       e.batch_of,
       e.apply_attempts
FROM inbound_events e;

-- Links whose oldest unfinished action is dead: it holds every later action
-- of the link (per-link order) until a person retries or drops it.
CREATE VIEW audit.held_links AS
SELECT d.integration_id,
       d.link_id,
       l.record_kind,
       l.record_id,
       l.ticket_id,
       d.id AS dead_action_id,
       d.kind AS dead_kind,
       d.outcome AS dead_outcome,
       d.last_error,
       d.created_at AS held_since,
       (SELECT count(*) FROM outbox w
         WHERE w.integration_id = d.integration_id AND w.link_id = d.link_id AND w.id > d.id
           AND w.status = 'pending')::bigint AS waiting_actions
FROM outbox d
JOIN links l ON l.integration_id = d.integration_id AND l.id = d.link_id
WHERE d.status = 'dead'
  AND NOT EXISTS (SELECT 1 FROM outbox p
                  WHERE p.integration_id = d.integration_id AND p.link_id = d.link_id AND p.id < d.id
                    AND p.status IN ('pending', 'delivering', 'dead'));

-- +goose Down
DROP VIEW audit.held_links;
DROP VIEW audit.events;
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
DROP INDEX outbox_held;
ALTER TABLE outbox DROP COLUMN crashes;
ALTER TABLE outbox DROP COLUMN first_failed_at;
DROP INDEX inbound_events_retry;
ALTER TABLE inbound_events DROP COLUMN retry_at;
ALTER TABLE inbound_events DROP COLUMN apply_attempts;
ALTER TABLE inbound_events DROP COLUMN batch_of;
ALTER TABLE inbound_events DROP COLUMN raw;
