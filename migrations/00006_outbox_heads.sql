-- The head of each link's queue is marked (is_head), so a claim reads the
-- due heads straight off a small index instead of testing every waiting row
-- for an earlier unfinished one of its link (a scan of the whole backlog).
-- A link's head is its oldest unfinished (pending, delivering or dead)
-- action; it is set when an action is enqueued on a link with none, and
-- moved to the next one when the head finishes, both under the link's lock.
-- Additive: a binary that does not know the column ignores it (its claim
-- still tests for earlier rows), and a relay sweep marks the heads of rows
-- such a binary enqueued.

-- +goose Up
ALTER TABLE outbox ADD COLUMN is_head boolean NOT NULL DEFAULT false;
UPDATE outbox o SET is_head = true
FROM (SELECT integration_id, link_id, min(id) AS id FROM outbox
      WHERE status IN ('pending', 'delivering', 'dead') GROUP BY integration_id, link_id) h
WHERE o.integration_id = h.integration_id AND o.id = h.id;
CREATE INDEX outbox_heads ON outbox (next_attempt_at, id) WHERE is_head AND status = 'pending';

-- +goose Down
DROP INDEX outbox_heads;
ALTER TABLE outbox DROP COLUMN is_head;
