-- Per-power credentials of an integration (migrations/00010_credentials.sql).

-- name: CredentialCheck :one
-- What one request to a route needs to be admitted, in one indexed read:
-- the integration's state and the current (and previous) hash of the
-- route's credential. With no row, or a row without a hash, the power
-- still takes the shared pre-00010 webhook token.
SELECT i.config_version,
       (i.disabled_at IS NOT NULL)::boolean AS disabled,
       coalesce(c.secret_hash, i.webhook_token_hash)::bytea AS secret_hash,
       (c.secret_hash IS NULL)::boolean AS legacy,
       c.previous_hash
FROM integrations i
LEFT JOIN credentials c ON c.integration_id = i.id AND c.power = @power::text
WHERE i.id = @integration_id;

-- name: CredentialCreate :exec
-- A new integration's credential; an existing one is kept (re-applying a
-- configuration never changes a secret).
INSERT INTO credentials (integration_id, power, secret_hash, version, rotated_at)
VALUES (@integration_id, @power, @secret_hash, 1, now())
ON CONFLICT (integration_id, power) DO NOTHING;

-- name: CredentialRotate :one
-- Replaces one power's secret; the one it replaces (the shared legacy token
-- when the power never had its own) becomes previous_hash.
INSERT INTO credentials AS c (integration_id, power, secret_hash, previous_hash, version, rotated_at)
SELECT i.id, @power, @secret_hash, i.webhook_token_hash, 1, now()
FROM integrations i WHERE i.id = @integration_id
ON CONFLICT (integration_id, power) DO UPDATE SET
    previous_hash = coalesce(c.secret_hash, excluded.previous_hash),
    secret_hash = excluded.secret_hash,
    version = c.version + 1,
    rotated_at = now(),
    link_tokens = NULL,
    link_tokens_at = NULL
RETURNING c.version;

-- name: CredentialList :many
-- Every power that has a row, for `integration show` and `list`.
SELECT integration_id, power, secret_hash, version, rotated_at
FROM credentials
WHERE integration_id = ANY(@integration_ids::text[])
ORDER BY integration_id, power;

-- name: CredentialEnsure :exec
-- Makes sure a power has a row (for its bucket) without changing its secret.
INSERT INTO credentials (integration_id, power)
VALUES (@integration_id, @power)
ON CONFLICT (integration_id, power) DO NOTHING;

-- name: CredentialTakeLink :one
-- Takes one form link from the Dashboard App key's bucket (capacity @cap,
-- refilled at @rate a second); says whether it got one, and how long until
-- the next one when not.
WITH cur AS (
    SELECT c.integration_id, c.power,
           least(@cap::float8, coalesce(c.link_tokens, @cap::float8)
               + extract(epoch FROM now() - coalesce(c.link_tokens_at, now()))::float8 * @rate::float8) AS tokens
    FROM credentials c
    WHERE c.integration_id = @integration_id AND c.power = 'app'
    FOR UPDATE
)
UPDATE credentials AS t
SET link_tokens = CASE WHEN cur.tokens >= 1 THEN cur.tokens - 1 ELSE cur.tokens END,
    link_tokens_at = now()
FROM cur
WHERE t.integration_id = cur.integration_id AND t.power = cur.power
RETURNING (cur.tokens >= 1)::boolean AS granted,
          greatest(0, (1 - cur.tokens) / @rate::float8)::float8 AS wait_seconds;
