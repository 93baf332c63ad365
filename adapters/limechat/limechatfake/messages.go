package limechatfake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/lsqbridge/lsqbridge/service"
)

// messagesPageSize is Chatwoot's page of GET …/messages.
const messagesPageSize = 20

// addMessageLocked appends a message. Like Chatwoot (a message touches its
// conversation) it moves updated_at and last_activity_at, which fires no
// conversation webhook: neither is a key conversation_updated announces.
// message_created is not among the events the fake's webhook sends.
func (f *Fake) addMessageLocked(c *conversation, m message) message {
	f.nextMessage++
	m.id = f.nextMessage
	f.touchLocked(c)
	m.createdAt = c.updatedAt
	c.lastActivity = c.updatedAt
	c.messages = append(c.messages, m)
	return m
}

// handleCreateMessage serves POST /conversations/{id}/messages {content,
// message_type, private}: the message as Chatwoot renders it. message_type
// defaults to outgoing; a private message is a note for agents only.
func (f *Fake) handleCreateMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Content     string `json:"content"`
		MessageType string `json:"message_type"`
		Private     bool   `json:"private"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	c, ok := f.conversationFor(w, r)
	if !ok {
		return
	}
	defer f.mu.Unlock()
	var incoming bool
	switch in.MessageType {
	case "", "outgoing":
	case "incoming":
		incoming = true
	default:
		writeUnprocessable(w, fmt.Sprintf("'%s' is not a valid message_type", in.MessageType), "message_type")
		return
	}
	m := f.addMessageLocked(c, message{content: in.Content, incoming: incoming, private: in.Private && !incoming})
	writeJSON(w, http.StatusOK, f.messageJSON(c, m))
}

// handleListMessages serves GET /conversations/{id}/messages[?before=ID]:
// {meta, payload} with the 20 newest messages (older than before, when
// given), oldest first.
func (f *Fake) handleListMessages(w http.ResponseWriter, r *http.Request) {
	c, ok := f.conversationFor(w, r)
	if !ok {
		return
	}
	defer f.mu.Unlock()
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	var page []message
	for _, m := range c.messages {
		if before == 0 || m.id < before {
			page = append(page, m)
		}
	}
	if len(page) > messagesPageSize {
		page = page[len(page)-messagesPageSize:]
	}
	payload := make([]any, 0, len(page))
	for _, m := range page {
		payload = append(payload, f.messageJSON(c, m))
	}
	meta := map[string]any{"labels": slices.Clone(c.labels), "additional_attributes": map[string]any{},
		"contact": contactREST(f.contacts[c.contactID]), "agent_last_seen_at": 0, "assignee_last_seen_at": 0}
	if a, ok := f.agents[c.assigneeID]; ok {
		meta["assignee"] = f.agentREST(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": meta, "payload": payload})
}

// Messages returns a conversation's messages, oldest first, as the person
// API shows them.
func (f *Fake) Messages(conversationID int64) ([]service.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return nil, errNoConversation(conversationID)
	}
	out := make([]service.Message, 0, len(c.messages))
	for _, m := range c.messages {
		out = append(out, service.Message{ID: m.id, Content: m.content, Private: m.private, Outgoing: !m.incoming, CreatedAt: m.createdAt})
	}
	return out, nil
}

// CloseConversation moves a conversation to LimeChat's Closed state (as its Auto Close
// timer or an agent does after Resolved). It fires conversation_status_changed
// and conversation_updated like any status change. A customer writing
// afterwards opens a new conversation (CustomerWrites).
func (f *Fake) CloseConversation(conversationID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return errNoConversation(conversationID)
	}
	f.setStatusLocked(c, statusClosed)
	return nil
}

// CustomerWrites is the conversation's customer sending a WhatsApp message,
// as LimeChat handles it: on a closed conversation it opens a NEW
// conversation with the same contact in the same inbox (firing
// conversation_created and the automation webhook); a resolved one is
// opened again (firing the status change); otherwise the message joins
// the conversation (a snoozed one opens). It returns the conversation the
// message landed in.
func (f *Fake) CustomerWrites(conversationID int64, content string) (service.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return service.Ticket{}, errNoConversation(conversationID)
	}
	if c.status == statusClosed {
		next := f.createConversationLocked(newConversation{contactID: c.contactID, message: content, incoming: true})
		return f.ticketLocked(next), nil
	}
	if c.status == "resolved" || c.status == "snoozed" {
		f.setStatusLocked(c, "open")
	}
	f.addMessageLocked(c, message{content: content, incoming: true})
	return f.ticketLocked(c), nil
}
