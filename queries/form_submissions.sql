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

-- name: FormLeadLinkRetire :execrows
-- A lead the form itself created got a ticket-creating link from its
-- lead-created webhook before the form could mark it: retire that link
-- while its ticket is not made yet (the customer's conversation exists).
UPDATE links SET state = 'unlinked', updated_at = now()
WHERE integration_id = @integration_id AND id = @id AND state = 'pending_ticket' AND ticket_id IS NULL;

-- name: FormSupersedeCreateTicket :execrows
UPDATE outbox SET status = 'superseded', outcome = 'lead created by the opportunity form', delivered_at = now(), lease_until = NULL
WHERE integration_id = @integration_id AND link_id = @link_id AND kind = 'limechat.create_ticket' AND status = 'pending';

-- name: FormSubmissionSetLead :exec
-- Records the lead a submission captures on (committed on its own while the
-- capture transaction holds the lead's lock).
UPDATE form_submissions SET lead_id = @lead_id
WHERE integration_id = @integration_id AND idempotency_key = @idempotency_key AND status = 'in_progress';

-- name: FormSubmissionInterrupted :one
-- The newest submission on a lead that did not finish (a crash, or an answer
-- that never came) within the last 10 minutes.
SELECT * FROM form_submissions
WHERE integration_id = @integration_id AND lead_id = @lead_id AND status IN ('in_progress', 'failed')
  AND created_at > now() - interval '10 minutes'
ORDER BY created_at DESC
LIMIT 1
FOR UPDATE;

-- name: FormSubmissionRecover :execrows
-- Completes an interrupted submission with the link its opportunity got.
UPDATE form_submissions SET status = 'created', response = @response, finished_at = now()
WHERE integration_id = @integration_id AND idempotency_key = @idempotency_key AND status IN ('in_progress', 'failed');
