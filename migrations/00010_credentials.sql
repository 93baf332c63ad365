-- One credential per caller and per power (issue 12): the LeadSquared
-- webhooks, the LimeChat account webhook, the LimeChat automation route and
-- the Dashboard App key each have their own secret, generated, shown once,
-- stored only as its SHA-256 hash and rotated on its own.
--
-- Expand only: integrations.webhook_token_hash stays. A power with no row
-- here, or a row whose secret_hash is NULL, still accepts the integration's
-- pre-00010 shared webhook token (its hash is read from
-- integrations.webhook_token_hash), so every URL configured before this
-- migration keeps working until that power is first rotated.

-- +goose Up
CREATE TABLE credentials (
    integration_id text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    power          text NOT NULL CHECK (power IN ('leadsquared', 'limechat', 'automation', 'app')),
    -- SHA-256 of the secret; NULL = the shared pre-00010 webhook token.
    secret_hash    bytea CHECK (length(secret_hash) = 32),
    -- The hash the last rotation replaced: a request presenting it is
    -- refused like any other, but the log can say "rotated credential".
    previous_hash  bytea,
    -- Rotations so far (0 = never generated: the shared legacy token).
    version        integer NOT NULL DEFAULT 0,
    rotated_at     timestamptz,
    -- The Dashboard App key's form-link bucket (power 'app'), shared by every
    -- serve process: NULL tokens = full. A rotation refills it.
    link_tokens    double precision,
    link_tokens_at timestamptz,
    PRIMARY KEY (integration_id, power)
);

-- +goose Down
DROP TABLE credentials;
