-- name: IntegrationUpsert :one
-- Creates an integration or updates its configuration; an update bumps
-- config_version. webhook_token_hash (the shared pre-00010 webhook token, kept
-- for integrations that have not rotated every power; a new integration's is
-- the hash of a secret nobody holds) is set only on creation.
INSERT INTO integrations (
    id, name, lsq_host, lsq_access_key_sealed, lsq_secret_key_sealed, lsq_requests_per_5s, lsq_user_id,
    limechat_base_url, limechat_account_id, limechat_inbox_id, limechat_api_token_sealed,
    limechat_webhook_secret_sealed, flow_builder_url, flow_builder_account_id, flow_builder_key_sealed,
    webhook_token_hash, rules
) VALUES (
    @id, @name, @lsq_host, @lsq_access_key_sealed, @lsq_secret_key_sealed, @lsq_requests_per_5s, @lsq_user_id,
    @limechat_base_url, @limechat_account_id, @limechat_inbox_id, @limechat_api_token_sealed,
    sqlc.narg(limechat_webhook_secret_sealed), @flow_builder_url, @flow_builder_account_id, sqlc.narg(flow_builder_key_sealed),
    @webhook_token_hash, @rules
)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    lsq_host = excluded.lsq_host,
    lsq_access_key_sealed = excluded.lsq_access_key_sealed,
    lsq_secret_key_sealed = excluded.lsq_secret_key_sealed,
    lsq_requests_per_5s = excluded.lsq_requests_per_5s,
    lsq_user_id = excluded.lsq_user_id,
    limechat_base_url = excluded.limechat_base_url,
    limechat_account_id = excluded.limechat_account_id,
    limechat_inbox_id = excluded.limechat_inbox_id,
    limechat_api_token_sealed = excluded.limechat_api_token_sealed,
    limechat_webhook_secret_sealed = excluded.limechat_webhook_secret_sealed,
    flow_builder_url = excluded.flow_builder_url,
    flow_builder_account_id = excluded.flow_builder_account_id,
    flow_builder_key_sealed = excluded.flow_builder_key_sealed,
    rules = excluded.rules,
    -- What is synced changed, or the integration is enabled again: records
    -- created before now are out of scope (no backfill).
    sync_since = CASE
        WHEN integrations.disabled_at IS NOT NULL
          OR (integrations.rules->'sync'->'leads', integrations.rules->'sync'->'opportunities',
              integrations.rules->'sync'->'opportunity_types')
             IS DISTINCT FROM
             (excluded.rules->'sync'->'leads', excluded.rules->'sync'->'opportunities',
              excluded.rules->'sync'->'opportunity_types')
        THEN now() ELSE integrations.sync_since END,
    config_version = integrations.config_version + 1,
    disabled_at = NULL,
    updated_at = now()
RETURNING id, config_version, (xmax = 0)::boolean AS created;

-- name: IntegrationGet :one
SELECT * FROM integrations WHERE id = @id;

-- name: IntegrationList :many
SELECT * FROM integrations ORDER BY id;

-- name: IntegrationSetTokenHash :execrows
UPDATE integrations SET webhook_token_hash = @webhook_token_hash, updated_at = now() WHERE id = @id;

-- name: IntegrationDisable :execrows
UPDATE integrations SET disabled_at = now(), updated_at = now() WHERE id = @id AND disabled_at IS NULL;

-- name: IntegrationDelete :exec
-- Deletes an integration; its rows in every other table go with it (ON
-- DELETE CASCADE).
DELETE FROM integrations WHERE id = @id;

-- name: IntegrationPauseLeadSquared :exec
-- Pauses LeadSquared calls for every relay process until the given time;
-- never shortens a pause already in force.
UPDATE integrations SET lsq_paused_until = greatest(coalesce(lsq_paused_until, @until::timestamptz), @until::timestamptz)
WHERE id = @id;

-- name: IntegrationSetReconciledAt :exec
UPDATE integrations SET reconciled_at = @reconciled_at WHERE id = @id;

-- name: IntegrationReconciledAt :one
SELECT reconciled_at FROM integrations WHERE id = @id;

-- name: IntegrationTakeToken :one
-- Takes one LeadSquared call token from the integration's shared bucket
-- (capacity @cap, refilled at @rate a second) unless the integration is
-- paused; says whether it got one, and how long until the next one when not.
WITH cur AS (
    SELECT i.id,
           least(@cap::float8, coalesce(i.lsq_tokens, @cap::float8)
               + extract(epoch FROM now() - coalesce(i.lsq_tokens_at, now()))::float8 * @rate::float8) AS tokens,
           coalesce(extract(epoch FROM i.lsq_paused_until - now())::float8, 0) AS paused_for
    FROM integrations i WHERE i.id = @id
    FOR UPDATE
)
UPDATE integrations AS t
SET lsq_tokens = CASE WHEN cur.paused_for <= 0 AND cur.tokens >= 1 THEN cur.tokens - 1 ELSE cur.tokens END,
    lsq_tokens_at = now()
FROM cur
WHERE t.id = cur.id
RETURNING (cur.paused_for <= 0 AND cur.tokens >= 1)::boolean AS granted,
          greatest(cur.paused_for, (1 - cur.tokens) / @rate::float8)::float8 AS wait_seconds;
