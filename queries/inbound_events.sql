-- name: InboundInsert :one
-- Records a delivery; a repeat of the same dedup key returns nothing.
INSERT INTO inbound_events (integration_id, source, event_type, dedup_key, occurred_at, payload, raw, batch_of,
                            outcome, detail, retry_at)
VALUES (@integration_id, @source, @event_type, @dedup_key, sqlc.narg(occurred_at), sqlc.narg(payload), sqlc.narg(raw),
        sqlc.narg(batch_of), @outcome, @detail, sqlc.narg(retry_at))
ON CONFLICT (integration_id, source, dedup_key) DO NOTHING
RETURNING id;

-- name: InboundSetOutcome :exec
-- Records what became of an event (and takes it off the retry list).
UPDATE inbound_events SET outcome = @outcome, detail = @detail, link_id = sqlc.narg(link_id),
    event_type = coalesce(sqlc.narg(event_type), event_type), retry_at = NULL
WHERE integration_id = @integration_id AND id = @id;

-- name: InboundPrune :execrows
-- Retention: deletes deliveries older than the cutoff, in batches.
DELETE FROM inbound_events
WHERE (integration_id, id) IN (
    SELECT e.integration_id, e.id FROM inbound_events e WHERE e.received_at < @before ORDER BY e.received_at LIMIT @max_rows);

-- name: InboundRetryFailed :one
-- Takes back a delivery whose processing failed (outcome error) so that a
-- repeat of it is processed again instead of answered as a duplicate.
UPDATE inbound_events SET outcome = 'received', detail = ''
WHERE integration_id = @integration_id AND source = @source AND dedup_key = @dedup_key AND outcome = 'error'
RETURNING id;

-- name: InboundFailedDue :many
-- Deliveries stored after applying them failed, due for another try.
SELECT integration_id, id, source, event_type, dedup_key, raw, payload, apply_attempts
FROM inbound_events
WHERE outcome = 'error' AND retry_at <= now()
ORDER BY retry_at
LIMIT @max_rows;

-- name: InboundLockFailed :one
-- Locks a failed delivery for another try; nothing when another process
-- holds it or it was applied meanwhile.
SELECT id FROM inbound_events
WHERE integration_id = @integration_id AND id = @id AND outcome = 'error' AND retry_at IS NOT NULL
FOR UPDATE SKIP LOCKED;

-- name: InboundRetryLater :exec
-- Counts a failed try and says when the next is due (NULL: no more tries;
-- the event stays 'error' for a person).
UPDATE inbound_events SET apply_attempts = apply_attempts + 1, retry_at = sqlc.narg(retry_at), detail = @detail
WHERE integration_id = @integration_id AND id = @id AND outcome = 'error';

-- name: InboundInsertLocking :one
-- Records a delivery (nothing when its dedup key was seen before) and, in
-- the same round trip, takes the transaction's advisory lock on the lead it
-- is about (namespace 42, see service.LockLead; no lock when lead_key is
-- NULL): the first statement of applying a webhook.
INSERT INTO inbound_events (integration_id, source, event_type, dedup_key, occurred_at, payload, raw, batch_of,
                            outcome, detail, retry_at)
VALUES (@integration_id, @source, @event_type, @dedup_key, sqlc.narg(occurred_at), sqlc.narg(payload), sqlc.narg(raw),
        sqlc.narg(batch_of), @outcome, @detail, sqlc.narg(retry_at))
ON CONFLICT (integration_id, source, dedup_key) DO NOTHING
RETURNING id, (pg_advisory_xact_lock(hashtextextended(sqlc.narg(lead_key)::text, 42))::text IS NOT NULL)::bool AS locked;
