-- name: OutboxInsert :one
-- Enqueues an action; it is its link's head when the link has no other
-- unfinished action (an unordered one, a note, is always a head of its own
-- and never counts as unfinished for the others). The caller holds the
-- link's row lock (every enqueue follows from a change of the link), which
-- keeps is_head exact.
INSERT INTO outbox (integration_id, link_id, kind, payload, idempotency_key, caused_by, next_attempt_at, unordered, is_head)
SELECT @integration_id, @link_id, @kind, @payload, @idempotency_key, sqlc.narg(caused_by),
       coalesce(sqlc.narg(next_attempt_at)::timestamptz, now()), @unordered,
       @unordered OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.integration_id = @integration_id AND p.link_id = @link_id
                                 AND p.status IN ('pending', 'delivering', 'dead') AND NOT p.unordered)
ON CONFLICT (integration_id, idempotency_key) DO NOTHING
RETURNING id;

-- name: OutboxClaim :many
-- Claims due actions at the head of their link's queue (per-link FIFO; a
-- dead head holds the link's later actions until a person retries or drops
-- it), skipping rows other relays hold, and LeadSquared actions of paused
-- integrations. Claimed rows become 'delivering' under a lease. The heads
-- are read off the outbox_heads index, so a claim costs the same whatever
-- the backlog. An unordered action (a note) is outside its link's order: a
-- head of its own, never held, holding nothing.
WITH ready AS (
    SELECT o.integration_id, o.id
    FROM outbox o
    JOIN integrations i ON i.id = o.integration_id
    WHERE o.is_head AND o.status = 'pending'
      AND o.next_attempt_at <= now()
      AND i.disabled_at IS NULL
      AND (o.kind NOT LIKE 'leadsquared.%' OR i.lsq_paused_until IS NULL OR i.lsq_paused_until <= now())
    ORDER BY o.next_attempt_at, o.id
    LIMIT @max_rows
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox AS t
SET status = 'delivering', attempts = t.attempts + 1, lease_until = now() + make_interval(secs => @lease_seconds::float8)
FROM ready
WHERE t.integration_id = ready.integration_id AND t.id = ready.id
RETURNING t.*;

-- name: OutboxPromote :exec
-- Makes the oldest unfinished action of each given link its head, for
-- links whose head just finished. The caller holds the links' row locks.
UPDATE outbox o SET is_head = true
FROM (SELECT p.integration_id, p.link_id, min(p.id) AS id
      FROM outbox p
      JOIN (SELECT unnest(@integration_ids::text[]) AS integration_id, unnest(@link_ids::bigint[]) AS link_id) l
        ON p.integration_id = l.integration_id AND p.link_id = l.link_id
      WHERE p.status IN ('pending', 'delivering', 'dead') AND NOT p.unordered
      GROUP BY p.integration_id, p.link_id) h
WHERE o.integration_id = h.integration_id AND o.id = h.id AND NOT o.is_head;

-- name: OutboxRepairHeads :execrows
-- Marks the head of every link that has unfinished actions but none marked
-- (rows enqueued by a binary that did not know is_head). A sweep over the
-- backlog: the relay runs it now and then, not per claim.
UPDATE outbox o SET is_head = true
FROM (SELECT integration_id, link_id, min(id) AS id FROM outbox
      WHERE status IN ('pending', 'delivering', 'dead') AND NOT unordered
      GROUP BY integration_id, link_id
      HAVING NOT bool_or(is_head)) h
WHERE o.integration_id = h.integration_id AND o.id = h.id;

-- name: LinksLock :exec
-- Locks links' rows in one order (no deadlock between two lockers).
SELECT 1 FROM links
WHERE (integration_id, id) IN (SELECT unnest(@integration_ids::text[]), unnest(@link_ids::bigint[]))
ORDER BY integration_id, id
FOR UPDATE;

-- name: OutboxMarkDelivered :execrows
UPDATE outbox SET status = 'delivered', delivered_at = now(), lease_until = NULL, result = @result, outcome = @outcome, last_error = ''
WHERE integration_id = @integration_id AND id = @id AND status = 'delivering' AND attempts = @attempt::int;

-- name: OutboxMarkRetry :execrows
-- Puts a failed delivery back; refund gives back the attempt when the
-- failure was the platform's rate limit or a wait rather than the action's
-- fault. A transient failure starts the retry window (first_failed_at); a
-- refunded one does not.
UPDATE outbox SET status = 'pending', lease_until = NULL, last_error = @last_error, outcome = @outcome,
    next_attempt_at = @next_attempt_at, attempts = greatest(attempts - @refund::int, 0),
    first_failed_at = CASE WHEN @refund::int = 0 THEN coalesce(first_failed_at, now()) ELSE first_failed_at END
WHERE integration_id = @integration_id AND id = @id AND status = 'delivering' AND attempts = @attempt::int;

-- name: OutboxMarkDead :execrows
UPDATE outbox SET status = 'dead', lease_until = NULL, last_error = @last_error, outcome = @outcome
WHERE integration_id = @integration_id AND id = @id AND status = 'delivering' AND attempts = @attempt::int;

-- name: OutboxMarkSuperseded :execrows
UPDATE outbox SET status = 'superseded', lease_until = NULL, outcome = @outcome, delivered_at = now()
WHERE integration_id = @integration_id AND id = @id AND status = 'delivering' AND attempts = @attempt::int;

-- name: OutboxReleaseExpired :execrows
-- Returns rows whose relay died mid-delivery to the queue. That attempt may
-- have reached the platform, so the row says so (outcome maybe_sent): a
-- create looks first, a Flow-builder event is not sent again. The attempt
-- counts, and so does the crash: a row whose delivery stopped its relay
-- max_crashes times ends dead, so it cannot take every replica down in turn.
UPDATE outbox SET lease_until = NULL, outcome = CASE WHEN crashes + 1 >= @max_crashes::int THEN 'crashed' ELSE 'maybe_sent' END,
    status = CASE WHEN crashes + 1 >= @max_crashes::int THEN 'dead' ELSE 'pending' END,
    crashes = crashes + 1,
    last_error = CASE WHEN crashes + 1 >= @max_crashes::int
        THEN format('the relay stopped mid-delivery %s times (lease expired each time): this action may be what stops it; a person decides (outbox retry or drop)', crashes + 1)
        ELSE 'lease expired: the relay stopped mid-delivery' END
WHERE status = 'delivering' AND lease_until < now();

-- name: OutboxGet :one
SELECT * FROM outbox WHERE integration_id = @integration_id AND id = @id;

-- name: OutboxPendingOfKinds :many
-- Waiting actions of some kinds on one link after a claimed one, for folding
-- several LeadSquared updates of one record into one call. Only the link's
-- head can be claimed, so these rows cannot be taken by another relay.
SELECT * FROM outbox
WHERE integration_id = @integration_id AND link_id = @link_id AND kind = ANY(@kinds::text[])
  AND status = 'pending' AND id > @after_id
ORDER BY id;

-- name: OutboxMarkMerged :exec
UPDATE outbox SET status = 'superseded', outcome = 'merged', delivered_at = now(), lease_until = NULL
WHERE integration_id = @integration_id AND id = ANY(@ids::bigint[]) AND status = 'pending';

-- name: OutboxCountRecentForLink :one
-- Actions enqueued for one link in the window: the loop fuse's measure.
SELECT count(*)::bigint FROM outbox o
WHERE o.integration_id = @integration_id::text AND o.link_id = @link_id::bigint
  AND o.created_at > greatest(now() - make_interval(secs => @window_seconds::float8),
      coalesce((SELECT l.fuse_reset_at FROM links l WHERE l.integration_id = @integration_id::text AND l.id = @link_id::bigint), '-infinity'));

-- name: OutboxList :many
SELECT * FROM outbox
WHERE (sqlc.narg(integration_id)::text IS NULL OR integration_id = sqlc.narg(integration_id))
  AND status = ANY(@statuses::text[])
ORDER BY id LIMIT @max_rows;

-- name: OutboxRetry :execrows
-- Gives a dead (or waiting) action a fresh attempt budget and retry
-- window, due now; a dead one releases the actions it held.
UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), outcome = '', lease_until = NULL,
    first_failed_at = NULL, crashes = 0
WHERE integration_id = @integration_id AND id = @id AND status IN ('dead', 'pending');

-- name: OutboxDrop :execrows
UPDATE outbox SET status = 'superseded', outcome = 'dropped', delivered_at = now(), lease_until = NULL
WHERE integration_id = @integration_id AND id = @id AND status IN ('dead', 'pending');

-- name: OutboxPrune :execrows
-- Retention: deletes finished actions older than the cutoff, in batches,
-- keeping the outbox small and vacuum-friendly. Dead rows stay for a person.
DELETE FROM outbox
WHERE (integration_id, id) IN (
    SELECT o.integration_id, o.id FROM outbox o
    WHERE o.status IN ('delivered', 'superseded') AND o.delivered_at < @before::timestamptz
    ORDER BY o.delivered_at LIMIT @max_rows);

-- name: OutboxStats :many
-- Depth and age by status, and the links a dead action holds.
SELECT integration_id, status, count(*)::bigint AS n,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds,
       (count(DISTINCT link_id) FILTER (WHERE NOT unordered))::bigint AS links
FROM outbox WHERE status IN ('pending', 'delivering', 'dead')
GROUP BY integration_id, status;

-- name: OutboxMarkDeliveredMany :many
-- Records many deliveries in one statement (the relay's completer batches
-- them); each row only if the attempt that delivered it still holds it.
UPDATE outbox AS o SET status = 'delivered', delivered_at = now(), lease_until = NULL, last_error = '',
    outcome = d.outcome, result = d.result
FROM (SELECT unnest(@integration_ids::text[]) AS integration_id, unnest(@ids::bigint[]) AS id,
             unnest(@attempts::int[]) AS attempt, unnest(@outcomes::text[]) AS outcome,
             unnest(@results::jsonb[]) AS result) AS d
WHERE o.integration_id = d.integration_id AND o.id = d.id AND o.status = 'delivering' AND o.attempts = d.attempt
RETURNING o.integration_id, o.id;


-- name: OutboxOpenKinds :many
-- Kinds of the link's actions not yet finished: values those actions will
-- write are not trusted from snapshots meanwhile.
SELECT DISTINCT kind FROM outbox
WHERE integration_id = @integration_id AND link_id = @link_id AND status IN ('pending', 'delivering');

-- name: OutboxOpenBefore :one
-- Unfinished actions of a link enqueued before a moment: a reconcile read
-- taken after them may not show their effect yet.
SELECT count(*)::bigint FROM outbox
WHERE integration_id = @integration_id AND link_id = @link_id AND status IN ('pending', 'delivering')
  AND created_at < @before AND NOT unordered;

-- name: OutboxOpenCount :one
-- Unfinished actions of a link that change something (notes do not).
SELECT count(*)::bigint FROM outbox
WHERE integration_id = @integration_id AND link_id = @link_id AND status IN ('pending', 'delivering') AND NOT unordered;

-- name: OutboxFlowEventCounts :one
-- Of one record's Flow-builder events (@kind): how many named @event were
-- delivered (for any link of the record id), and how many of the record's
-- are still to send (`lsqbridge uat`, where Flow-builder cannot be asked).
SELECT count(*) FILTER (WHERE o.status = 'delivered' AND o.payload->>'event' = @event::text) AS delivered,
       count(*) FILTER (WHERE o.status IN ('pending', 'delivering') AND l.record_kind = @record_kind::text) AS open
FROM outbox o
JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
WHERE o.integration_id = @integration_id AND l.record_id = @record_id AND o.kind = @kind;
