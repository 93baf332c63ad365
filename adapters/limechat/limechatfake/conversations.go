package limechatfake

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

type conversation struct {
	id           int64
	uuid         string
	inboxID      int64
	contactID    int64
	assigneeID   int64
	status       string
	labels       []string
	custom       map[string]any
	messages     []message
	createdAt    time.Time
	updatedAt    time.Time
	lastActivity time.Time
}

type message struct {
	id        int64
	content   string
	incoming  bool
	private   bool
	senderID  int64
	createdAt time.Time
}

// statuses are Chatwoot's conversation statuses.
var statuses = []string{"open", "resolved", "pending", "snoozed"}

// statusClosed is LimeChat's own last state (Bot → Open → … → Resolved →
// Closed): a customer writing to a closed ticket opens a new conversation.
// How LimeChat's API spells it is not documented (an open question in the
// reference); the fake shows "closed".
const statusClosed = "closed"

// newConversation is what creating a conversation needs, from the API or a person.
type newConversation struct {
	contactID  int64
	assigneeID int64
	status     string
	custom     map[string]any
	message    string
	incoming   bool
}

// createConversationLocked stores a conversation with the next display id
// and fires conversation_created and the automation rule's webhook.
func (f *Fake) createConversationLocked(nc newConversation) *conversation {
	now := f.timestamp()
	f.nextConv++
	c := &conversation{
		id:           f.nextConv,
		uuid:         f.uuidLocked(),
		inboxID:      f.opts.InboxID,
		contactID:    nc.contactID,
		status:       cmp.Or(nc.status, "open"),
		labels:       []string{},
		custom:       normalize(nc.custom),
		createdAt:    now,
		updatedAt:    now,
		lastActivity: now,
	}
	if _, ok := f.agents[nc.assigneeID]; ok {
		c.assigneeID = nc.assigneeID
	}
	if nc.message != "" {
		f.nextMessage++
		m := message{id: f.nextMessage, content: nc.message, incoming: nc.incoming, createdAt: now}
		if !nc.incoming {
			m.senderID = c.assigneeID
		}
		c.messages = append(c.messages, m)
	}
	f.conversations[c.id] = c
	f.fireLocked(c, "conversation_created", nil)
	f.fireAutomationLocked(c, "conversation_created")
	return c
}

// touchLocked advances updated_at strictly (to the microsecond, bumped when
// the clock has not moved) and returns the change for changed_attributes.
func (f *Fake) touchLocked(c *conversation) map[string]any {
	prev := c.updatedAt
	now := f.timestamp()
	if !now.After(prev) {
		now = prev.Add(time.Microsecond)
	}
	c.updatedAt = now
	return changed("updated_at", railsTime(prev), railsTime(now))
}

func changed(key string, prev, cur any) map[string]any {
	return map[string]any{key: map[string]any{"previous_value": prev, "current_value": cur}}
}

// idOrNil renders an unset id as null, as Rails does.
func idOrNil(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// assignLocked sets the assignee; an id that is not an agent unassigns, as
// Chatwoot does. A change fires conversation_updated with assignee_id.
func (f *Fake) assignLocked(c *conversation, agentID int64) {
	if _, ok := f.agents[agentID]; !ok {
		agentID = 0
	}
	if c.assigneeID == agentID {
		return
	}
	prev := c.assigneeID
	c.assigneeID = agentID
	f.fireLocked(c, "conversation_updated", []any{changed("assignee_id", idOrNil(prev), idOrNil(agentID)), f.touchLocked(c)})
}

// setLabelsLocked replaces the label list (deduplicated, kept labels keep
// their place); a change of the set fires conversation_updated with label_list.
func (f *Fake) setLabelsLocked(c *conversation, labels []string) {
	next := []string{}
	for _, l := range c.labels {
		if slices.Contains(labels, l) {
			next = append(next, l)
		}
	}
	for _, l := range labels {
		if l != "" && !slices.Contains(next, l) {
			next = append(next, l)
		}
	}
	if sameSet(c.labels, next) {
		return
	}
	prev := c.labels
	c.labels = next
	f.fireLocked(c, "conversation_updated", []any{changed("label_list", prev, slices.Clone(next)), f.touchLocked(c)})
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}

// setCustomLocked replaces the whole custom_attributes hash; a change fires
// conversation_updated with custom_attributes.
func (f *Fake) setCustomLocked(c *conversation, attrs map[string]any) {
	next := normalize(attrs)
	if sameJSON(c.custom, next) {
		return
	}
	prev := c.custom
	c.custom = next
	f.fireLocked(c, "conversation_updated", []any{changed("custom_attributes", prev, maps.Clone(next)), f.touchLocked(c)})
}

// setStatusLocked changes the status. Like Chatwoot it fires both
// conversation_status_changed and conversation_updated (status is one of
// the keys that makes an update worth announcing).
func (f *Fake) setStatusLocked(c *conversation, status string) {
	if c.status == status {
		return
	}
	prev := c.status
	c.status = status
	statusChange := changed("status", prev, status)
	touched := f.touchLocked(c)
	f.fireLocked(c, "conversation_status_changed", []any{statusChange})
	f.fireLocked(c, "conversation_updated", []any{statusChange, touched})
}

// ticketLocked renders a conversation as the REST API shows it (assignee e-mail included).
func (f *Fake) ticketLocked(c *conversation) service.Ticket {
	t := service.Ticket{
		ID: c.id, AccountID: f.opts.AccountID, InboxID: c.inboxID, Status: c.status,
		AssigneeID: c.assigneeID, Labels: slices.Clone(c.labels), CustomAttributes: maps.Clone(c.custom),
		UpdatedAt: c.updatedAt,
	}
	if a, ok := f.agents[c.assigneeID]; ok {
		t.AssigneeEmail = a.email
	}
	if ct, ok := f.contacts[c.contactID]; ok {
		t.Contact = ct.toService()
	}
	return t
}

// Conversation returns a conversation as the REST API would show it.
func (f *Fake) Conversation(id int64) (service.Ticket, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[id]
	if !ok {
		return service.Ticket{}, false
	}
	return f.ticketLocked(c), true
}

// Conversations returns every conversation, by display id.
func (f *Fake) Conversations() []service.Ticket {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]service.Ticket, 0, len(f.conversations))
	for _, c := range f.conversations {
		out = append(out, f.ticketLocked(c))
	}
	slices.SortFunc(out, func(a, b service.Ticket) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// conversationFor finds the {id} conversation or answers 404; on success
// f.mu is held and the caller must unlock it.
func (f *Fake) conversationFor(w http.ResponseWriter, r *http.Request) (*conversation, bool) {
	id, ok := pathID(w, r)
	if !ok {
		return nil, false
	}
	f.mu.Lock()
	c, ok := f.conversations[id]
	if !ok {
		f.mu.Unlock()
		writeNotFound(w)
		return nil, false
	}
	return c, true
}
