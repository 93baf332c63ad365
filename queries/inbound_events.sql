-- name: InboundInsert :one
-- Records a delivery; a repeat of the same dedup key returns nothing.
INSERT INTO inbound_events (integration_id, source, event_type, dedup_key, occurred_at, payload, payload_text, outcome, detail)
VALUES (@integration_id, @source, @event_type, @dedup_key, sqlc.narg(occurred_at), sqlc.narg(payload), sqlc.narg(payload_text), @outcome, @detail)
ON CONFLICT (integration_id, source, dedup_key) DO NOTHING
RETURNING id;

-- name: InboundSetOutcome :exec
UPDATE inbound_events SET outcome = @outcome, detail = @detail, link_id = sqlc.narg(link_id)
WHERE integration_id = @integration_id AND id = @id;

-- name: InboundGet :one
SELECT * FROM inbound_events WHERE integration_id = @integration_id AND id = @id;

-- name: InboundListByOutcome :many
SELECT * FROM inbound_events
WHERE integration_id = @integration_id AND outcome = @outcome
ORDER BY id;

-- name: InboundCountByOutcome :many
SELECT outcome, count(*)::bigint AS n FROM inbound_events
WHERE integration_id = @integration_id GROUP BY outcome ORDER BY outcome;
