-- Wakeups between processes: a NOTIFY on the outbox channel after a commit
-- that enqueued actions wakes the relays of other processes, which LISTEN
-- on it. The channel is named here only (lsqbridge_outbox).

-- name: OutboxNotify :exec
SELECT pg_notify('lsqbridge_outbox', '');

-- name: OutboxListen :exec
LISTEN lsqbridge_outbox;

-- name: OutboxUnlisten :exec
-- Leaves a pooled connection listening on nothing.
UNLISTEN *;
