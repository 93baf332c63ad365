-- name: LinkInsert :one
-- Creates a link; a concurrent or repeated creation of the same record
-- returns nothing (the caller then locks the existing row).
INSERT INTO links (integration_id, record_kind, record_id, lead_id, ticket_id, contact_id, owner_email,
                   owner_changed_at, labels, fields, written, seen, lsq_seen_at, limechat_seen_at, state, origin)
VALUES (@integration_id, @record_kind, @record_id, @lead_id, sqlc.narg(ticket_id), sqlc.narg(contact_id), @owner_email,
        sqlc.narg(owner_changed_at), @labels, @fields, @written, @seen, sqlc.narg(lsq_seen_at), sqlc.narg(limechat_seen_at), @state, @origin)
ON CONFLICT (integration_id, record_kind, record_id) DO NOTHING
RETURNING *;

-- name: LinkLockByRecord :one
SELECT * FROM links
WHERE integration_id = @integration_id AND record_kind = @record_kind AND record_id = @record_id
FOR UPDATE;

-- name: LinkLockByTicket :one
SELECT * FROM links WHERE integration_id = @integration_id AND ticket_id = @ticket_id FOR UPDATE;

-- name: LinkLockSharers :many
-- The other links of a ticket than the one LinkLockByTicketOpen locked,
-- locked in id order.
SELECT * FROM links
WHERE integration_id = @integration_id AND ticket_id = @ticket_id AND id <> @except_id
ORDER BY id FOR UPDATE;

-- name: LinkLock :one
SELECT * FROM links WHERE integration_id = @integration_id AND id = @id FOR UPDATE;

-- name: LinkGet :one
SELECT * FROM links WHERE integration_id = @integration_id AND id = @id;

-- name: LinkGetByTicket :one
-- The ticket's link; of a lead and an opportunity sharing it, the opportunity's.
SELECT * FROM links WHERE integration_id = @integration_id AND ticket_id = @ticket_id
ORDER BY record_kind = 'opportunity' DESC, id LIMIT 1;

-- name: LinkGetByTicketKind :one
SELECT * FROM links WHERE integration_id = @integration_id AND ticket_id = @ticket_id AND record_kind = @record_kind;

-- name: LinkGetByRecord :one
SELECT * FROM links WHERE integration_id = @integration_id AND record_kind = @record_kind AND record_id = @record_id;

-- name: LinkSaveState :exec
-- Writes the link's synced state; always in the transaction that enqueues
-- the actions following from it.
UPDATE links SET
    owner_email = @owner_email,
    owner_changed_at = sqlc.narg(owner_changed_at),
    labels = @labels,
    fields = @fields,
    written = @written,
    seen = @seen,
    lsq_seen_at = sqlc.narg(lsq_seen_at),
    limechat_seen_at = sqlc.narg(limechat_seen_at),
    state = @state,
    paused_at = sqlc.narg(paused_at),
    paused_reason = @paused_reason,
    updated_at = now()
WHERE integration_id = @integration_id AND id = @id;

-- name: LinkSetWritten :exec
-- Stores the ledger of the relay's own writes (see links.written).
UPDATE links SET written = @written WHERE integration_id = @integration_id AND id = @id;

-- name: LinkSetTicket :exec
-- Records the ticket a create_ticket action made (or found).
UPDATE links SET ticket_id = @ticket_id, contact_id = coalesce(sqlc.narg(contact_id), contact_id),
    state = CASE WHEN state = 'pending_ticket' THEN 'active' ELSE state END, updated_at = now()
WHERE integration_id = @integration_id AND id = @id;

-- name: LinkListActive :many
SELECT * FROM links
WHERE integration_id = @integration_id AND state = 'active' AND id > @after_id
ORDER BY id LIMIT @max_rows;

-- name: LinkUnpause :execrows
UPDATE links SET paused_at = NULL, paused_reason = '', fuse_reset_at = now(), fuse_window_start = NULL, fuse_count = 0, updated_at = now()
WHERE integration_id = @integration_id AND id = @id AND paused_at IS NOT NULL;

-- name: LinkListByContact :many
-- Active links whose ticket belongs to a LimeChat contact, other than one
-- ticket: the records a new conversation of that contact may follow up.
SELECT * FROM links
WHERE integration_id = @integration_id AND contact_id = @contact_id AND state = 'active'
  AND ticket_id IS NOT NULL AND ticket_id <> @except_ticket_id
ORDER BY id;

-- name: LinkFollowTicket :execrows
-- Moves a link from its ticket to the record's next conversation, keeping
-- the old ticket in link_tickets; only while it still has the old one.
WITH moved AS (
    UPDATE links SET ticket_id = @new_ticket_id, written = @written, updated_at = now()
    WHERE links.integration_id = @integration_id AND links.id = @id AND links.ticket_id = @old_ticket_id
    RETURNING links.integration_id, links.id
)
INSERT INTO link_tickets (integration_id, link_id, ticket_id, followed_by, ticket_status, caused_by)
SELECT moved.integration_id, moved.id, @old_ticket_id, @new_ticket_id, @old_status, sqlc.narg(caused_by)
FROM moved;

-- name: LinkAdoptTicket :execrows
-- Gives a link that waits for its ticket an existing one (a lead the
-- opportunity form created, whose lead-created webhook got in first).
UPDATE links SET ticket_id = @ticket_id, contact_id = coalesce(sqlc.narg(contact_id), contact_id), state = 'active',
    origin = @origin, owner_email = @owner_email, owner_changed_at = sqlc.narg(owner_changed_at), labels = @labels,
    written = @written, limechat_seen_at = sqlc.narg(limechat_seen_at), updated_at = now()
WHERE integration_id = @integration_id AND id = @id AND state = 'pending_ticket' AND ticket_id IS NULL;

-- name: LinkLockByRecordOpen :one
-- Locks a record's link and reads the kinds of its unfinished actions, in
-- one round trip.
SELECT sqlc.embed(l),
       coalesce((SELECT array_agg(DISTINCT o.kind ORDER BY o.kind) FROM outbox o
                 WHERE o.integration_id = l.integration_id AND o.link_id = l.id AND o.status IN ('pending', 'delivering')),
                '{}')::text[] AS open_kinds
FROM links l
WHERE l.integration_id = @integration_id AND l.record_kind = @record_kind AND l.record_id = @record_id
FOR UPDATE OF l;

-- name: LinkLockByTicketOpen :one
-- The ticket's first link (a ticket may be shared by a lead and an
-- opportunity: shared says so, and LinkLockSharers locks the others,
-- always in id order).
SELECT sqlc.embed(l),
       coalesce((SELECT array_agg(DISTINCT o.kind ORDER BY o.kind) FROM outbox o
                 WHERE o.integration_id = l.integration_id AND o.link_id = l.id AND o.status IN ('pending', 'delivering')),
                '{}')::text[] AS open_kinds,
       EXISTS (SELECT 1 FROM links s WHERE s.integration_id = l.integration_id AND s.ticket_id = l.ticket_id AND s.id <> l.id) AS shared
FROM links l
WHERE l.integration_id = @integration_id AND l.ticket_id = @ticket_id
ORDER BY l.id LIMIT 1
FOR UPDATE OF l;

-- name: ApplyFinish :many
-- Writes what deciding one event concluded, in one round trip: the link's
-- new state (when save_link), the event's outcome (when record_event: not
-- for the other links of a shared ticket), and the actions that follow
-- (outbox rows; a repeated idempotency key adds nothing; notes are
-- unordered). Returns the ids of the actions added.
WITH saved AS (
    UPDATE links SET
        owner_email = @owner_email,
        owner_changed_at = sqlc.narg(owner_changed_at),
        labels = @labels,
        fields = @fields,
        written = @written,
        seen = @seen,
        lsq_seen_at = sqlc.narg(lsq_seen_at),
        limechat_seen_at = sqlc.narg(limechat_seen_at),
        state = @state,
        paused_at = CASE WHEN @paused::bool THEN coalesce(paused_at, now()) END,
        paused_reason = @paused_reason,
        fuse_window_start = sqlc.narg(fuse_window_start),
        fuse_count = @fuse_count,
        updated_at = now()
    WHERE @save_link::bool AND integration_id = @integration_id AND id = @link_id
    RETURNING id
), recorded AS (
    UPDATE inbound_events SET outcome = @outcome, detail = @detail, link_id = sqlc.narg(event_link_id),
        event_type = @event_type, retry_at = NULL
    WHERE @record_event::bool AND integration_id = @integration_id AND id = @event_id
    RETURNING id
)
INSERT INTO outbox (integration_id, link_id, kind, payload, idempotency_key, caused_by, unordered, is_head)
SELECT @integration_id, @link_id, (@kinds::text[])[n], (@payloads::jsonb[])[n], (@idempotency_keys::text[])[n], @event_id,
       (@unordereds::bool[])[n],
       -- an unordered action (a note) is a head of its own; the first
       -- ordered action is the link's head when the link has no other
       -- unfinished ordered action (the link's row is locked: see OutboxInsert)
       (@unordereds::bool[])[n] OR (
           n = (SELECT min(k) FROM generate_series(1, cardinality(@kinds::text[])) AS k WHERE NOT (@unordereds::bool[])[k])
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.integration_id = @integration_id AND p.link_id = @link_id
                           AND p.status IN ('pending', 'delivering', 'dead') AND NOT p.unordered))
FROM generate_series(1, cardinality(@kinds::text[])) AS n
ORDER BY n
ON CONFLICT (integration_id, idempotency_key) DO NOTHING
RETURNING id;

-- name: LinkAddMark :exec
-- Appends a mark of a write about to be made to the link's ledger
-- (links.written[key].marks) in one statement, before the call: its echo
-- may come before the delivery is recorded. The ledger is trimmed when the
-- delivery is recorded.
UPDATE links SET written = jsonb_set(written, ARRAY[@key::text],
        coalesce(written -> @key::text, '{}'::jsonb)
        || jsonb_build_object('marks', coalesce((written -> @key::text) -> 'marks', '[]'::jsonb) || jsonb_build_array(@mark::jsonb)))
WHERE integration_id = @integration_id AND id = @id;
