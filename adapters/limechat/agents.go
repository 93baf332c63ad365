package limechat

import (
	"context"
	"net/http"

	"github.com/lsqbridge/lsqbridge/service"
)

// Agents lists the account's agents and administrators (GET /agents). ID is
// the decimal agent id, Active means the agent confirmed the invitation.
// Webhook assignees carry no e-mail, so this list is how an assignee id is
// matched to a LeadSquared owner.
func (c *Client) Agents(ctx context.Context) ([]service.User, error) {
	var resp []agentJSON
	if err := c.do(ctx, call{op: "list agents", method: http.MethodGet, path: "/agents"}, &resp); err != nil {
		return nil, err
	}
	users := make([]service.User, 0, len(resp))
	for i := range resp {
		users = append(users, resp[i].user())
	}
	return users, nil
}
