-- name: FormSubmissionStart :one
-- Claims an idempotency key as in_progress; returns nothing when the key was
-- used before (the caller then reads that row).
INSERT INTO form_submissions (integration_id, idempotency_key, ticket_id, origin)
VALUES (@integration_id, @idempotency_key, @ticket_id, @origin)
ON CONFLICT (integration_id, idempotency_key) DO NOTHING
RETURNING *;

-- name: FormSubmissionGet :one
SELECT * FROM form_submissions WHERE integration_id = @integration_id AND idempotency_key = @idempotency_key;

-- name: FormSubmissionFinish :execrows
-- Records the answer of an in_progress submission (created or failed).
UPDATE form_submissions SET status = @status, response = @response, finished_at = now()
WHERE integration_id = @integration_id AND idempotency_key = @idempotency_key AND status = 'in_progress';

-- name: FormSubmissionRelease :exec
-- Frees the key of a submission that certainly created nothing (LeadSquared
-- refused or could not be reached), so the client may retry with it.
DELETE FROM form_submissions
WHERE integration_id = @integration_id AND idempotency_key = @idempotency_key AND status = 'in_progress';

-- name: FormLockTicket :exec
-- Serialises submissions from one ticket (transaction-scoped), so two
-- submissions cannot both take a ticket that has no link yet.
SELECT pg_advisory_xact_lock(hashtextextended(@lock_key::text, 43));

-- name: FormLeadLinkRetire :execrows
-- A lead the form itself created got a ticket-creating link from its
-- lead-created webhook before the form could mark it: retire that link
-- while its ticket is not made yet (the customer's conversation exists).
UPDATE links SET state = 'unlinked', updated_at = now()
WHERE integration_id = @integration_id AND id = @id AND state = 'pending_ticket' AND ticket_id IS NULL;

-- name: FormSupersedeCreateTicket :execrows
UPDATE outbox SET status = 'superseded', outcome = 'lead created by the opportunity form', delivered_at = now(), lease_until = NULL
WHERE integration_id = @integration_id AND link_id = @link_id AND kind = 'limechat.create_ticket' AND status = 'pending';
