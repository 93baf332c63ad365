-- name: NoteDeadWithoutNote :many
-- Dead actions (in their link's order, on links with a ticket) for which
-- no note was enqueued yet: those the relay gave up on or that crashed it
-- (the deliverer enqueues the note itself for the ones it declares dead).
SELECT o.id, o.link_id, o.kind, o.outcome, o.last_error, o.caused_by
FROM outbox o
JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
WHERE o.integration_id = @integration_id AND o.status = 'dead' AND NOT o.unordered AND l.ticket_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM outbox n
                  WHERE n.integration_id = o.integration_id
                    AND n.idempotency_key = 'note:l' || o.link_id::text || ':dead:' || o.id::text)
ORDER BY o.id
LIMIT @max_rows;

-- name: NoteHeldWithoutNote :many
-- Dead actions holding changes made since (pending actions of the link
-- after them), for which no "held" note was enqueued yet.
SELECT d.id, d.link_id, d.kind,
       (SELECT count(*) FROM outbox w
         WHERE w.integration_id = d.integration_id AND w.link_id = d.link_id AND w.id > d.id
           AND w.status = 'pending' AND NOT w.unordered)::bigint AS waiting
FROM outbox d
JOIN links l ON l.integration_id = d.integration_id AND l.id = d.link_id
WHERE d.integration_id = @integration_id AND d.status = 'dead' AND NOT d.unordered AND l.ticket_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM outbox w
              WHERE w.integration_id = d.integration_id AND w.link_id = d.link_id AND w.id > d.id
                AND w.status = 'pending' AND NOT w.unordered)
  AND NOT EXISTS (SELECT 1 FROM outbox p
                  WHERE p.integration_id = d.integration_id AND p.link_id = d.link_id AND p.id < d.id
                    AND p.status IN ('pending', 'delivering', 'dead') AND NOT p.unordered)
  AND NOT EXISTS (SELECT 1 FROM outbox n
                  WHERE n.integration_id = d.integration_id
                    AND n.idempotency_key = 'note:l' || d.link_id::text || ':held:' || d.id::text)
ORDER BY d.id
LIMIT @max_rows;
