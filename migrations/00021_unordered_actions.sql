-- Actions outside their link's order: a private note on the ticket saying
-- why something could not be mirrored (an unmatched owner, an action that
-- died and holds the link). Such an action is neither held by a dead action
-- of its link (it is often about that very action) nor holds the link's
-- later actions. Additive: an older build never enqueues one, and claims
-- them in order like any other (they wait behind a dead action there).

-- +goose Up
ALTER TABLE outbox ADD COLUMN unordered boolean NOT NULL DEFAULT false;

-- A dead unordered action holds nothing: it is not a held link.
CREATE OR REPLACE VIEW audit.held_links AS
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
           AND w.status = 'pending' AND NOT w.unordered)::bigint AS waiting_actions
FROM outbox d
JOIN links l ON l.integration_id = d.integration_id AND l.id = d.link_id
WHERE d.status = 'dead' AND NOT d.unordered
  AND NOT EXISTS (SELECT 1 FROM outbox p
                  WHERE p.integration_id = d.integration_id AND p.link_id = d.link_id AND p.id < d.id
                    AND p.status IN ('pending', 'delivering', 'dead') AND NOT p.unordered);

-- +goose Down
CREATE OR REPLACE VIEW audit.held_links AS
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
ALTER TABLE outbox DROP COLUMN unordered;
