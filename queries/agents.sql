-- name: AgentUpsertLeadSquared :exec
INSERT INTO agents (integration_id, email, lsq_user_id, lsq_name, lsq_active, refreshed_at)
VALUES (@integration_id, lower(@email::text), @lsq_user_id, @lsq_name, @lsq_active, now())
ON CONFLICT (integration_id, email) DO UPDATE SET
    lsq_user_id = excluded.lsq_user_id, lsq_name = excluded.lsq_name,
    lsq_active = excluded.lsq_active, refreshed_at = now();

-- name: AgentUpsertLimeChat :exec
INSERT INTO agents (integration_id, email, limechat_agent_id, limechat_name, limechat_active, refreshed_at)
VALUES (@integration_id, lower(@email::text), @limechat_agent_id, @limechat_name, @limechat_active, now())
ON CONFLICT (integration_id, email) DO UPDATE SET
    limechat_agent_id = excluded.limechat_agent_id, limechat_name = excluded.limechat_name,
    limechat_active = excluded.limechat_active, refreshed_at = now();

-- name: AgentClearLeadSquaredUser :exec
-- Frees a LeadSquared user id held by another e-mail before it is reassigned.
UPDATE agents SET lsq_user_id = NULL, lsq_active = false
WHERE integration_id = @integration_id AND lsq_user_id = @lsq_user_id AND email <> lower(@email::text);

-- name: AgentClearLimeChatAgent :exec
UPDATE agents SET limechat_agent_id = NULL, limechat_active = false
WHERE integration_id = @integration_id AND limechat_agent_id = @limechat_agent_id AND email <> lower(@email::text);

-- name: AgentGetByEmail :one
SELECT * FROM agents WHERE integration_id = @integration_id AND email = lower(@email::text);

-- name: AgentGetByLeadSquaredUser :one
SELECT * FROM agents WHERE integration_id = @integration_id AND lsq_user_id = @lsq_user_id;

-- name: AgentGetByLimeChatAgent :one
SELECT * FROM agents WHERE integration_id = @integration_id AND limechat_agent_id = @limechat_agent_id;

-- name: AgentList :many
SELECT * FROM agents WHERE integration_id = @integration_id ORDER BY email;
