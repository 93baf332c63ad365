package limechatfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// This file renders the fake's state in Chatwoot's JSON shapes: the REST
// partials (api/v1/models/_contact, _agent, conversations/_conversation) and
// the webhook push_event_data. They are written independently of the
// client's decoding so the contract tests compare two readings of the wire.

// nullable renders "" as JSON null, as Rails does for absent strings.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// unixFloat renders t like Ruby's Time#to_f in JSON: seconds with microseconds.
func unixFloat(t time.Time) json.Number {
	return json.Number(fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000))
}

// railsTime renders t as Rails serializes a Time inside changed_attributes.
func railsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// normalize round-trips a JSON object so values compare and render exactly
// as they would after a trip over the wire (numbers become float64).
func normalize(m map[string]any) map[string]any {
	out := map[string]any{}
	if len(m) == 0 {
		return out
	}
	b, err := json.Marshal(m)
	if err != nil {
		return out
	}
	_ = json.Unmarshal(b, &out)
	return out
}

// sameJSON reports whether two JSON objects are equal (maps marshal with sorted keys).
func sameJSON(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func (f *Fake) inboxJSON() map[string]any {
	return map[string]any{"id": f.opts.InboxID, "name": "LimeChat API", "channel_type": "Channel::Api"}
}

// contactREST is the REST contact partial.
func contactREST(c *contact) map[string]any {
	return map[string]any{
		"id":                    c.id,
		"name":                  c.name,
		"email":                 nullable(c.email),
		"phone_number":          nullable(c.phone),
		"identifier":            nullable(c.identifier),
		"thumbnail":             "",
		"availability_status":   "offline",
		"custom_attributes":     maps.Clone(c.custom),
		"additional_attributes": map[string]any{},
		"last_activity_at":      nil,
		"created_at":            c.createdAt.Unix(),
	}
}

// contactPush is Contact#push_event_data (webhook meta.sender).
func contactPush(c *contact) map[string]any {
	return map[string]any{
		"id":                    c.id,
		"name":                  c.name,
		"email":                 nullable(c.email),
		"phone_number":          nullable(c.phone),
		"identifier":            nullable(c.identifier),
		"thumbnail":             "",
		"type":                  "contact",
		"custom_attributes":     maps.Clone(c.custom),
		"additional_attributes": map[string]any{},
	}
}

// agentREST is the REST agent partial, e-mail included.
func (f *Fake) agentREST(a *agent) map[string]any {
	return map[string]any{
		"id":                  a.id,
		"account_id":          f.opts.AccountID,
		"availability_status": "online",
		"auto_offline":        true,
		"confirmed":           true,
		"email":               a.email,
		"available_name":      a.name,
		"name":                a.name,
		"role":                a.role,
		"thumbnail":           "",
		"custom_attributes":   map[string]any{},
	}
}

// agentPush is User#push_event_data (webhook meta.assignee): no e-mail.
func agentPush(a *agent) map[string]any {
	return map[string]any{
		"id":                  a.id,
		"name":                a.name,
		"available_name":      a.name,
		"avatar_url":          "",
		"type":                "user",
		"availability_status": "online",
		"thumbnail":           "",
	}
}

// messageJSON is Message#push_event_data, carrying the account id that the
// conversation payload itself lacks.
func (f *Fake) messageJSON(c *conversation, m message) map[string]any {
	senderType, senderID, typ := "Contact", c.contactID, 0
	if !m.incoming {
		senderType, senderID, typ = "User", m.senderID, 1
	}
	return map[string]any{
		"id":                    m.id,
		"content":               m.content,
		"account_id":            f.opts.AccountID,
		"inbox_id":              c.inboxID,
		"conversation_id":       c.id,
		"message_type":          typ,
		"created_at":            m.createdAt.Unix(),
		"private":               m.private,
		"status":                "sent",
		"source_id":             nil,
		"content_type":          "text",
		"content_attributes":    map[string]any{},
		"sender_type":           senderType,
		"sender_id":             senderID,
		"external_source_ids":   map[string]any{},
		"additional_attributes": map[string]any{},
	}
}

// lastMessages is the one-element messages array both shapes carry.
func (f *Fake) lastMessages(c *conversation) []any {
	if len(c.messages) == 0 {
		return []any{}
	}
	return []any{f.messageJSON(c, c.messages[len(c.messages)-1])}
}

// conversationREST is the REST conversation partial: meta.assignee is the
// full agent (with e-mail) and is absent when unassigned.
func (f *Fake) conversationREST(c *conversation) map[string]any {
	meta := map[string]any{
		"sender":        contactREST(f.contacts[c.contactID]),
		"channel":       "Channel::Api",
		"hmac_verified": false,
	}
	if a, ok := f.agents[c.assigneeID]; ok {
		meta["assignee"] = f.agentREST(a)
	}
	return map[string]any{
		"meta":                   meta,
		"id":                     c.id,
		"messages":               f.lastMessages(c),
		"account_id":             f.opts.AccountID,
		"uuid":                   c.uuid,
		"additional_attributes":  map[string]any{},
		"agent_last_seen_at":     0,
		"assignee_last_seen_at":  0,
		"can_reply":              true,
		"contact_last_seen_at":   0,
		"custom_attributes":      maps.Clone(c.custom),
		"inbox_id":               c.inboxID,
		"labels":                 append([]string{}, c.labels...),
		"muted":                  false,
		"snoozed_until":          nil,
		"status":                 c.status,
		"created_at":             c.createdAt.Unix(),
		"updated_at":             unixFloat(c.updatedAt),
		"timestamp":              c.lastActivity.Unix(),
		"first_reply_created_at": 0,
		"unread_count":           0,
		"last_activity_at":       c.lastActivity.Unix(),
		"priority":               nil,
		"waiting_since":          0,
		"sla_policy_id":          nil,
	}
}

// pushData is Conversation#webhook_data (EventDataPresenter#push_data):
// no top-level account id, and an assignee without e-mail.
func (f *Fake) pushData(c *conversation) map[string]any {
	ct := f.contacts[c.contactID]
	var assignee any
	if a, ok := f.agents[c.assigneeID]; ok {
		assignee = agentPush(a)
	}
	return map[string]any{
		"additional_attributes": map[string]any{},
		"can_reply":             true,
		"channel":               "Channel::Api",
		"contact_inbox": map[string]any{
			"contact_id":    ct.id,
			"inbox_id":      c.inboxID,
			"source_id":     ct.sourceID,
			"hmac_verified": false,
		},
		"id":       c.id,
		"inbox_id": c.inboxID,
		"messages": f.lastMessages(c),
		"labels":   append([]string{}, c.labels...),
		"meta": map[string]any{
			"sender":        contactPush(ct),
			"assignee":      assignee,
			"team":          nil,
			"hmac_verified": false,
		},
		"status":                 c.status,
		"custom_attributes":      maps.Clone(c.custom),
		"snoozed_until":          nil,
		"unread_count":           0,
		"first_reply_created_at": nil,
		"priority":               nil,
		"waiting_since":          0,
		"agent_last_seen_at":     0,
		"contact_last_seen_at":   0,
		"last_activity_at":       c.lastActivity.Unix(),
		"timestamp":              c.lastActivity.Unix(),
		"created_at":             c.createdAt.Unix(),
		"updated_at":             unixFloat(c.updatedAt),
	}
}
