package limechat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lsqbridge/lsqbridge/service"
)

// CreateConversation opens a ticket (POST /conversations) and returns it;
// Ticket.ID is the per-account display id used in every later path. The
// optional Message becomes the conversation's first message.
func (c *Client) CreateConversation(ctx context.Context, nc service.NewConversation) (service.Ticket, error) {
	type message struct {
		Content string `json:"content"`
	}
	in := struct {
		InboxID          int64          `json:"inbox_id"`
		ContactID        int64          `json:"contact_id"`
		AssigneeID       int64          `json:"assignee_id,omitempty"`
		Status           string         `json:"status,omitempty"`
		CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
		Message          *message       `json:"message,omitempty"`
	}{InboxID: nc.InboxID, ContactID: nc.ContactID, AssigneeID: nc.AssigneeID, Status: nc.Status, CustomAttributes: nc.CustomAttributes}
	if nc.Message != "" {
		in.Message = &message{Content: nc.Message}
	}
	var resp conversationJSON
	if err := c.do(ctx, call{op: "create conversation", method: http.MethodPost, path: "/conversations", body: in, create: true}, &resp); err != nil {
		return service.Ticket{}, err
	}
	return resp.ticket(), nil
}

// GetConversation returns one conversation (GET /conversations/{id}). Unlike
// a webhook, the REST meta.assignee carries the agent's e-mail, which fills
// Ticket.AssigneeEmail. A missing one wraps service.ErrNotFound.
func (c *Client) GetConversation(ctx context.Context, id int64) (service.Ticket, error) {
	var resp conversationJSON
	if err := c.do(ctx, call{op: "get conversation", method: http.MethodGet, path: conversationPath(id)}, &resp); err != nil {
		return service.Ticket{}, err
	}
	return resp.ticket(), nil
}

// FindConversationsByAttribute returns every conversation whose custom
// attribute key equals value (POST /conversations/filter with Chatwoot's
// filter DSL, all pages). It is how a create is looked for before it is
// retried after an ambiguous failure (custom attribute lsq_record_id).
// Chatwoot applies the condition only when the account defines that custom
// attribute; without a definition it matches every conversation, so the
// results are checked here against the value as well.
func (c *Client) FindConversationsByAttribute(ctx context.Context, key, value string) ([]service.Ticket, error) {
	type condition struct {
		AttributeKey   string   `json:"attribute_key"`
		FilterOperator string   `json:"filter_operator"`
		Values         []string `json:"values"`
		QueryOperator  *string  `json:"query_operator"`
	}
	in := struct {
		Payload []condition `json:"payload"`
	}{[]condition{{AttributeKey: key, FilterOperator: "equal_to", Values: []string{value}}}}
	var out []service.Ticket
	seen := 0
	for page := 1; page <= maxPages; page++ {
		var resp struct {
			Meta struct {
				AllCount flexInt `json:"all_count"`
			} `json:"meta"`
			Payload []conversationJSON `json:"payload"`
		}
		query := url.Values{"page": {strconv.Itoa(page)}}
		if err := c.do(ctx, call{op: "filter conversations", method: http.MethodPost, path: "/conversations/filter", query: query, body: in, read: true}, &resp); err != nil {
			return nil, err
		}
		seen += len(resp.Payload)
		for i := range resp.Payload {
			t := resp.Payload[i].ticket()
			if v, ok := t.CustomAttributes[key]; ok && fmt.Sprint(v) == value {
				out = append(out, t)
			}
		}
		if len(resp.Payload) == 0 || seen >= int(resp.Meta.AllCount) {
			break
		}
	}
	return out, nil
}

// Assign sets the conversation's assignee (POST …/assignments). agentID 0
// sends null, which unassigns; Chatwoot also unassigns when the id is not an
// agent of the account, so callers should map agents first.
func (c *Client) Assign(ctx context.Context, conversationID, agentID int64) error {
	in := struct {
		AssigneeID *int64 `json:"assignee_id"`
	}{}
	if agentID != 0 {
		in.AssigneeID = &agentID
	}
	return c.do(ctx, call{op: "assign conversation", method: http.MethodPost, path: conversationPath(conversationID) + "/assignments", body: in}, nil)
}

// Labels returns the conversation's labels (GET …/labels).
func (c *Client) Labels(ctx context.Context, conversationID int64) ([]string, error) {
	var resp struct {
		Payload []string `json:"payload"`
	}
	if err := c.do(ctx, call{op: "get labels", method: http.MethodGet, path: conversationPath(conversationID) + "/labels"}, &resp); err != nil {
		return nil, err
	}
	return nonNilLabels(resp.Payload), nil
}

// SetLabels REPLACES the conversation's whole label list with labels
// (POST …/labels) and returns the list Chatwoot now holds. To add a label,
// read, union, then set.
func (c *Client) SetLabels(ctx context.Context, conversationID int64, labels []string) ([]string, error) {
	in := struct {
		Labels []string `json:"labels"`
	}{nonNilLabels(labels)}
	var resp struct {
		Payload []string `json:"payload"`
	}
	if err := c.do(ctx, call{op: "set labels", method: http.MethodPost, path: conversationPath(conversationID) + "/labels", body: in}, &resp); err != nil {
		return nil, err
	}
	return nonNilLabels(resp.Payload), nil
}

// SetCustomAttributes REPLACES the conversation's whole custom_attributes
// hash with attrs (POST …/custom_attributes). To change one key, read,
// merge, then set.
func (c *Client) SetCustomAttributes(ctx context.Context, conversationID int64, attrs map[string]any) error {
	in := struct {
		CustomAttributes map[string]any `json:"custom_attributes"`
	}{nonNilMap(attrs)}
	return c.do(ctx, call{op: "set custom attributes", method: http.MethodPost, path: conversationPath(conversationID) + "/custom_attributes", body: in}, nil)
}

func conversationPath(id int64) string {
	return "/conversations/" + strconv.FormatInt(id, 10)
}
