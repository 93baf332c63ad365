-- name: InboundInsert :one
-- Records a delivery; a repeat of the same dedup key returns nothing.
INSERT INTO inbound_events (integration_id, source, event_type, dedup_key, occurred_at, payload, payload_text, outcome, detail)
VALUES (@integration_id, @source, @event_type, @dedup_key, sqlc.narg(occurred_at), sqlc.narg(payload), sqlc.narg(payload_text), @outcome, @detail)
ON CONFLICT (integration_id, source, dedup_key) DO NOTHING
RETURNING id;

-- name: InboundSetOutcome :exec
UPDATE inbound_events SET outcome = @outcome, detail = @detail, link_id = sqlc.narg(link_id)
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
