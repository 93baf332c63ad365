-- Statements of `lsqbridge bench` only (cmd/internal/bench): a scratch
-- integration, its links and a backlog of actions, and the readings the
-- reports take. The service never runs them. (A bench integration goes
-- with IntegrationDelete, as any other.)

-- name: BenchIntegrationCreate :exec
-- A bare integration row for benches that drive the outbox alone: no real
-- platform behind it, placeholder secrets. A disabled one's actions are
-- never claimed (the ingest ceiling's).
INSERT INTO integrations (id, name, lsq_host, lsq_access_key_sealed, lsq_secret_key_sealed,
    limechat_base_url, limechat_account_id, limechat_inbox_id, limechat_api_token_sealed, webhook_token_hash, disabled_at)
VALUES (@id, 'bench', 'http://127.0.0.1', '\x00', '\x00', 'http://127.0.0.1', 1, 1, '\x00', '\x00',
        CASE WHEN @disabled::bool THEN now() END);

-- name: BenchLinksCreate :many
-- Creates n lead links named @prefix-1 … @prefix-n and returns their ids in order.
INSERT INTO links (integration_id, record_kind, record_id, lead_id, origin)
SELECT @integration_id, 'lead', @prefix::text || '-' || g, @prefix::text || '-' || g, 'leadsquared'
FROM generate_series(1, @n::int) AS g
ORDER BY g
RETURNING id;

-- name: BenchEnqueueMany :execrows
-- A backlog in one statement, as River's InsertMany: the actions of fresh
-- links (no unfinished action yet), each link's first one (@seqs = 0) its
-- head, as OutboxInsert would make it.
INSERT INTO outbox (integration_id, link_id, kind, payload, idempotency_key, is_head)
SELECT @integration_id, a.link_id, @kind, a.payload, a.idempotency_key, a.seq = 0
FROM (SELECT unnest(@link_ids::bigint[]) AS link_id, unnest(@seqs::int[]) AS seq,
             unnest(@payloads::jsonb[]) AS payload, unnest(@keys::text[]) AS idempotency_key) a;

-- name: BenchOutboxStatusCounts :many
-- How many of an integration's actions are in each status.
SELECT status, count(*)::bigint AS n FROM outbox WHERE integration_id = @integration_id GROUP BY status;

-- name: BenchOpenActions :one
-- Actions of an integration not finished yet (pending or delivering).
SELECT count(*)::bigint FROM outbox WHERE integration_id = @integration_id AND status IN ('pending', 'delivering');

-- name: BenchAnalyzeOutbox :exec
-- Gives the planner statistics of the backlog just inserted, as autovacuum
-- gives a service's outbox (a table filled in one go has none for a while).
ANALYZE outbox;

-- name: BenchVacuum :exec
-- What autovacuum does on a service's database, at the points of a bench
-- where it would have run (a machine whose Postgres has it off gets no
-- statistics and keeps every dead row in the outbox's indexes).
VACUUM (ANALYZE) outbox, links, inbound_events;
