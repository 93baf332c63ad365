package limechat

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// messagePageSize is how many messages Chatwoot returns per page of
// GET …/messages (the newest ones, or those before ?before=).
const messagePageSize = 20

// PostMessage posts a message on a conversation (POST …/messages with
// content, message_type "outgoing" and private). A private message is a
// note only agents see; it is never sent to the customer. It is a create:
// a call that may have reached LimeChat is not sent again within the call,
// so a caller retrying after an ambiguous failure looks first (Messages).
func (c *Client) PostMessage(ctx context.Context, conversationID int64, m service.NewMessage) (service.Message, error) {
	in := struct {
		Content     string `json:"content"`
		MessageType string `json:"message_type"`
		Private     bool   `json:"private"`
	}{Content: m.Content, MessageType: "outgoing", Private: m.Private}
	var resp messageREST
	if err := c.do(ctx, call{op: "create message", method: http.MethodPost, path: conversationPath(conversationID) + "/messages", body: in, create: true}, &resp); err != nil {
		return service.Message{}, err
	}
	return resp.message(), nil
}

// Messages returns a conversation's most recent messages, newest last, up
// to limit (GET …/messages, paging back with ?before= the oldest id seen,
// 20 a page). A missing conversation wraps service.ErrNotFound.
func (c *Client) Messages(ctx context.Context, conversationID int64, limit int) ([]service.Message, error) {
	var out []service.Message
	before := int64(0)
	for page := 0; page < maxPages && len(out) < limit; page++ {
		var query url.Values
		if before != 0 {
			query = url.Values{"before": {strconv.FormatInt(before, 10)}}
		}
		var resp struct {
			Payload []messageREST `json:"payload"`
		}
		if err := c.do(ctx, call{op: "list messages", method: http.MethodGet, path: conversationPath(conversationID) + "/messages", query: query}, &resp); err != nil {
			return nil, err
		}
		got := make([]service.Message, 0, len(resp.Payload))
		for i := range resp.Payload {
			got = append(got, resp.Payload[i].message())
		}
		out = append(got, out...)
		if len(resp.Payload) < messagePageSize {
			break
		}
		oldest := got[0].ID
		for _, m := range got {
			oldest = min(oldest, m.ID)
		}
		if oldest == before || oldest == 0 {
			break // a server that ignores ?before= would repeat the page
		}
		before = oldest
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// messageREST is a Chatwoot message as the REST API renders it. Chatwoot
// renders message_type as its enum number (0 incoming, 1 outgoing, 2
// activity, 3 template); some builds and the webhook payloads use names.
type messageREST struct {
	ID          flexInt         `json:"id"`
	Content     string          `json:"content"`
	MessageType json.RawMessage `json:"message_type"`
	Private     bool            `json:"private"`
	CreatedAt   flexTime        `json:"created_at"`
}

func (m *messageREST) message() service.Message {
	return service.Message{
		ID: int64(m.ID), Content: m.Content, Private: m.Private, CreatedAt: m.CreatedAt.Time,
		Outgoing: messageTypeIs(m.MessageType, "1", "outgoing"),
	}
}

func messageTypeIs(raw json.RawMessage, number, name string) bool {
	v := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	return v == number || strings.EqualFold(v, name)
}
