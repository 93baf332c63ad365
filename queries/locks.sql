-- Advisory locks. Keys are text, hashed with a namespace as seed so that
-- lock kinds never collide; the namespaces are named in service/locks.go.

-- name: LockXact :exec
-- Takes a transaction-scoped advisory lock (released at commit or rollback).
SELECT pg_advisory_xact_lock(hashtextextended(@key::text, @namespace::bigint));

-- name: LockSession :exec
-- Takes a session-scoped advisory lock (released by UnlockSession, or when
-- the connection ends).
SELECT pg_advisory_lock(hashtextextended(@key::text, @namespace::bigint));

-- name: TryLockSession :one
SELECT pg_try_advisory_lock(hashtextextended(@key::text, @namespace::bigint));

-- name: UnlockSession :exec
SELECT pg_advisory_unlock(hashtextextended(@key::text, @namespace::bigint));
