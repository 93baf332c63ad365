-- Opportunity-form submissions, keyed by the client's Idempotency-Key (or, for
-- LimeChat automation calls, by conversation and rule event), so a repeated
-- submit returns the first answer and creates nothing. A row is inserted as
-- in_progress and committed before LeadSquared is called: a concurrent
-- duplicate finds it and is refused instead of capturing a second time.

-- +goose Up
CREATE TABLE form_submissions (
    integration_id  text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (idempotency_key <> ''),
    ticket_id       bigint NOT NULL,
    -- The lead the opportunity is captured on, set while the capture holds
    -- the lead's lock: if the capture is interrupted after LeadSquared
    -- acted, the opportunity-created webhook finds this row and links the
    -- opportunity to this ticket instead of opening another one.
    lead_id         text NOT NULL DEFAULT '',
    origin          text NOT NULL CHECK (origin IN ('form', 'automation')),
    status          text NOT NULL DEFAULT 'in_progress' CHECK (status IN ('in_progress', 'created', 'failed')),
    -- The answer given, replayed verbatim: the created opportunity and link
    -- ({"opportunity_id","lead_id","ticket_id","link_id",…}) or {"error"}.
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (integration_id, idempotency_key)
);
CREATE INDEX form_submissions_ticket ON form_submissions (integration_id, ticket_id);
CREATE INDEX form_submissions_unfinished ON form_submissions (integration_id, lead_id) WHERE status <> 'created';

-- +goose Down
DROP TABLE form_submissions;
