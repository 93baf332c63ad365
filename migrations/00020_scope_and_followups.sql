-- What issue 11 needs of the registry: the time from which an integration's
-- records are in scope (the reconciler opens tickets for records created
-- since, whose created webhook was lost), a lead and an opportunity sharing
-- one ticket (a lead the opportunity form created belongs to the agent's
-- ticket, like the opportunity), and the tickets a link had before its
-- record's conversation was closed and the customer opened a new one.
-- Additive for running builds: an older build keeps working on it.

-- +goose Up
-- Records created (LeadSquared CreatedOn) at or after this time are in the
-- integration's scope; older ones are never backfilled. Set when the
-- integration is created, and moved to the time of an apply that changes
-- what is synced (sync.leads, sync.opportunities, sync.opportunity_types)
-- or enables it again after `integration disable`.
ALTER TABLE integrations ADD COLUMN sync_since timestamptz;
UPDATE integrations SET sync_since = created_at;
ALTER TABLE integrations ALTER COLUMN sync_since SET DEFAULT now();
ALTER TABLE integrations ALTER COLUMN sync_since SET NOT NULL;

-- A ticket belongs to at most one lead and one opportunity (was: to one
-- record): a lead the opportunity form created shares the agent's ticket
-- with the opportunity captured on it.
ALTER TABLE links DROP CONSTRAINT links_integration_id_ticket_id_key;
ALTER TABLE links ADD CONSTRAINT links_ticket_kind_key UNIQUE (integration_id, ticket_id, record_kind);
-- Follow-up conversations are matched to links by their contact.
CREATE INDEX links_contact ON links (integration_id, contact_id) WHERE contact_id IS NOT NULL;

-- Tickets a link had before it moved to its record's next conversation
-- (the old one was resolved or closed and the customer wrote again).
CREATE TABLE link_tickets (
    integration_id  text NOT NULL,
    link_id         bigint NOT NULL,
    ticket_id       bigint NOT NULL,
    followed_by     bigint NOT NULL,
    ticket_status   text NOT NULL DEFAULT '',
    moved_at        timestamptz NOT NULL DEFAULT now(),
    caused_by       bigint,
    PRIMARY KEY (integration_id, link_id, ticket_id),
    FOREIGN KEY (integration_id, link_id) REFERENCES links (integration_id, id) ON DELETE CASCADE
);

-- Every ticket a link has had, for support: the one it has now (current)
-- and the ones it left when the customer's next conversation took over.
CREATE VIEW audit.link_tickets AS
SELECT l.integration_id,
       l.id AS link_id,
       l.record_kind,
       l.record_id,
       t.ticket_id,
       t.ticket_status AS status_when_left,
       t.followed_by,
       t.moved_at,
       false AS current
FROM link_tickets t
JOIN links l ON l.integration_id = t.integration_id AND l.id = t.link_id
UNION ALL
SELECT l.integration_id, l.id, l.record_kind, l.record_id, l.ticket_id, '', NULL::bigint, NULL::timestamptz, true
FROM links l
WHERE l.ticket_id IS NOT NULL;

-- +goose Down
DROP VIEW audit.link_tickets;
DROP TABLE link_tickets;
DROP INDEX links_contact;
-- A shared ticket goes back to one record: the opportunity keeps it and
-- the lead is unlinked, as before this migration.
UPDATE links l SET ticket_id = NULL, state = 'unlinked', updated_at = now()
WHERE l.record_kind = 'lead' AND l.ticket_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM links o WHERE o.integration_id = l.integration_id AND o.ticket_id = l.ticket_id AND o.id <> l.id);
ALTER TABLE links DROP CONSTRAINT links_ticket_kind_key;
ALTER TABLE links ADD CONSTRAINT links_integration_id_ticket_id_key UNIQUE (integration_id, ticket_id);
ALTER TABLE integrations DROP COLUMN sync_since;
