-- The link registry and the outbox: every table lsqbridge keeps.
-- Every primary and unique key begins with integration_id so the tables can
-- later be distributed by it (see docs/scaling.md).

-- +goose Up
CREATE TABLE integrations (
    id                         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                       text NOT NULL,
    lsq_host                   text NOT NULL,
    lsq_access_key_sealed      bytea NOT NULL,
    lsq_secret_key_sealed      bytea NOT NULL,
    lsq_requests_per_5s        integer NOT NULL DEFAULT 5 CHECK (lsq_requests_per_5s BETWEEN 1 AND 100),
    lsq_paused_until           timestamptz,
    -- The integration's LeadSquared token bucket, shared by every relay
    -- process (NULL tokens = full): requests_per_5s tokens refilled over 5 s.
    lsq_tokens                 double precision,
    lsq_tokens_at              timestamptz,
    -- Watermark of the reconciler's last LeadSquared read (RecentlyModified).
    reconciled_at              timestamptz,
    lsq_user_id                text NOT NULL DEFAULT '',
    limechat_base_url          text NOT NULL,
    limechat_account_id        bigint NOT NULL,
    limechat_inbox_id          bigint NOT NULL,
    limechat_api_token_sealed  bytea NOT NULL,
    limechat_webhook_secret_sealed bytea,
    flow_builder_url           text NOT NULL DEFAULT '',
    flow_builder_account_id    text NOT NULL DEFAULT '',
    flow_builder_key_sealed    bytea,
    webhook_token_hash         bytea NOT NULL,
    rules                      jsonb NOT NULL DEFAULT '{}',
    config_version             integer NOT NULL DEFAULT 1,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    disabled_at                timestamptz
);

-- One row per person known on either side, keyed by lower-cased e-mail: the
-- only identity the two platforms share.
CREATE TABLE agents (
    integration_id    text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    email             text NOT NULL CHECK (email = lower(email) AND email <> ''),
    lsq_user_id       text,
    lsq_name          text NOT NULL DEFAULT '',
    lsq_active        boolean NOT NULL DEFAULT false,
    limechat_agent_id bigint,
    limechat_name     text NOT NULL DEFAULT '',
    limechat_active   boolean NOT NULL DEFAULT false,
    refreshed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, email)
);
CREATE UNIQUE INDEX agents_lsq_user ON agents (integration_id, lsq_user_id) WHERE lsq_user_id IS NOT NULL;
CREATE UNIQUE INDEX agents_limechat_agent ON agents (integration_id, limechat_agent_id) WHERE limechat_agent_id IS NOT NULL;

-- A link ties one LeadSquared record to one LimeChat ticket and remembers the
-- last synced state of both, which is what makes echoes recognisable.
CREATE TABLE links (
    integration_id   text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    id               bigint GENERATED ALWAYS AS IDENTITY,
    record_kind      text NOT NULL CHECK (record_kind IN ('lead', 'opportunity')),
    record_id        text NOT NULL,
    lead_id          text NOT NULL,
    ticket_id        bigint,
    contact_id       bigint,
    owner_email      text NOT NULL DEFAULT '',
    owner_changed_at timestamptz,
    labels           text[] NOT NULL DEFAULT '{}',
    fields           jsonb NOT NULL DEFAULT '{}',
    -- What lsqbridge itself last wrote to each side, and when: an inbound
    -- change to exactly that value, no older than the write, is its echo.
    written          jsonb NOT NULL DEFAULT '{}',
    -- Source time of the newest change applied per attribute ("label:vip",
    -- "field:mx_City", "assignee"…): an older change of that attribute is
    -- stale, while older changes of other attributes still apply.
    seen             jsonb NOT NULL DEFAULT '{}',
    lsq_seen_at      timestamptz,
    limechat_seen_at timestamptz,
    state            text NOT NULL DEFAULT 'pending_ticket' CHECK (state IN ('pending_ticket', 'active', 'unlinked')),
    origin           text NOT NULL CHECK (origin IN ('leadsquared', 'form', 'automation')),
    paused_at        timestamptz,
    paused_reason    text NOT NULL DEFAULT '',
    -- When the loop fuse was last reset (links unpause): it counts only
    -- actions after this.
    fuse_reset_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, id),
    UNIQUE (integration_id, record_kind, record_id),
    UNIQUE (integration_id, ticket_id)
);
CREATE INDEX links_lead ON links (integration_id, lead_id);
CREATE INDEX links_owner ON links (integration_id, owner_email);

-- Everything that reached a webhook endpoint, parsed or not: nothing is lost.
CREATE TABLE inbound_events (
    integration_id text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    id             bigint GENERATED ALWAYS AS IDENTITY,
    source         text NOT NULL CHECK (source IN ('leadsquared', 'limechat', 'reconciler')),
    event_type     text NOT NULL,
    dedup_key      text NOT NULL,
    link_id        bigint,
    received_at    timestamptz NOT NULL DEFAULT now(),
    occurred_at    timestamptz,
    payload        jsonb,
    payload_text   text,
    outcome        text NOT NULL DEFAULT 'received' CHECK (outcome IN
        ('received', 'applied', 'echo', 'stale', 'duplicate', 'unlinked', 'unmatched_agent', 'rejected', 'ignored', 'paused', 'error')),
    detail         text NOT NULL DEFAULT '',
    PRIMARY KEY (integration_id, id),
    UNIQUE (integration_id, source, dedup_key)
);
CREATE INDEX inbound_events_link ON inbound_events (integration_id, link_id, id);
CREATE INDEX inbound_events_received ON inbound_events (received_at);

-- The transactional outbox: one row per action to perform on a platform,
-- written in the same transaction as the link state it follows from.
CREATE TABLE outbox (
    integration_id  text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    link_id         bigint NOT NULL,
    kind            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    idempotency_key text NOT NULL,
    caused_by       bigint,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'delivered', 'superseded', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_error      text NOT NULL DEFAULT '',
    outcome         text NOT NULL DEFAULT '',
    result          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    PRIMARY KEY (integration_id, id),
    UNIQUE (integration_id, idempotency_key),
    FOREIGN KEY (integration_id, link_id) REFERENCES links (integration_id, id) ON DELETE CASCADE
);
-- The relay's claim walks unfinished rows per link in id order.
CREATE INDEX outbox_open ON outbox (integration_id, link_id, id) WHERE status IN ('pending', 'delivering');
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_link ON outbox (integration_id, link_id, created_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE inbound_events;
DROP TABLE links;
DROP TABLE agents;
DROP TABLE integrations;
