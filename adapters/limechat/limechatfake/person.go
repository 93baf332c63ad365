package limechatfake

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// This file is the "person" API: plain Go methods that act as an agent (or
// a customer) in the LimeChat UI. Each change fires the same webhooks the
// platform would.

// errNoConversation is returned by person methods for an unknown display id.
func errNoConversation(id int64) error {
	return fmt.Errorf("limechatfake: conversation %d: %w", id, service.ErrNotFound)
}

// AddAgent adds a confirmed agent (or returns the one with that e-mail,
// compared case-insensitively). Agent ids start at 1.
func (f *Fake) AddAgent(name, email string) service.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	email = strings.ToLower(strings.TrimSpace(email))
	for _, a := range f.agents {
		if a.email == email {
			return a.toService()
		}
	}
	f.nextAgent++
	a := &agent{id: f.nextAgent, name: name, email: email, role: "agent"}
	f.agents[a.id] = a
	return a.toService()
}

// CreateConversationByPerson is a customer writing in: the contact (found
// by id, e-mail or phone, else created with Chatwoot's validations) opens
// an unassigned conversation with an incoming first message. It fires
// conversation_created and the automation webhook.
func (f *Fake) CreateConversationByPerson(ct service.Contact) (service.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.findContactLocked(ct)
	if c == nil {
		var err error
		if c, err = f.addContactLocked(ct); err != nil {
			return service.Ticket{}, err
		}
	}
	conv := f.createConversationLocked(newConversation{contactID: c.id, message: "Hello", incoming: true})
	return f.ticketLocked(conv), nil
}

func (f *Fake) findContactLocked(ct service.Contact) *contact {
	if c, ok := f.contacts[ct.ID]; ok {
		return c
	}
	email := strings.ToLower(strings.TrimSpace(ct.Email))
	for _, c := range f.contacts {
		if (email != "" && c.email == email) || (ct.Phone != "" && c.phone == ct.Phone) {
			return c
		}
	}
	return nil
}

// AssignAgent assigns the conversation to agentID (0 unassigns); a change
// fires conversation_updated with assignee_id. Unlike the API, an unknown
// agent is an error: a person can only pick listed agents.
func (f *Fake) AssignAgent(conversationID, agentID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return errNoConversation(conversationID)
	}
	if _, ok := f.agents[agentID]; agentID != 0 && !ok {
		return fmt.Errorf("limechatfake: agent %d: %w", agentID, service.ErrNotFound)
	}
	f.assignLocked(c, agentID)
	return nil
}

// ErrChanged is returned by AssignAgentFrom when the assignee is no longer
// the one the person saw.
var ErrChanged = errors.New("limechatfake: the conversation changed since the person looked")

// AssignAgentFrom is AssignAgent by a person who saw agent from assigned:
// when someone changed it meanwhile, nothing happens and ErrChanged says so.
func (f *Fake) AssignAgentFrom(conversationID, from, to int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return errNoConversation(conversationID)
	}
	if c.assigneeID != from {
		return ErrChanged
	}
	if _, ok := f.agents[to]; to != 0 && !ok {
		return fmt.Errorf("limechatfake: agent %d: %w", to, service.ErrNotFound)
	}
	f.assignLocked(c, to)
	return nil
}

// AddLabel adds a label; adding one already there changes nothing and fires nothing.
func (f *Fake) AddLabel(conversationID int64, label string) error {
	if strings.TrimSpace(label) == "" {
		return errors.New("limechatfake: empty label")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return errNoConversation(conversationID)
	}
	f.setLabelsLocked(c, append(slices.Clone(c.labels), label))
	return nil
}

// RemoveLabel removes a label; removing an absent one fires nothing.
func (f *Fake) RemoveLabel(conversationID int64, label string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return errNoConversation(conversationID)
	}
	f.setLabelsLocked(c, slices.DeleteFunc(slices.Clone(c.labels), func(l string) bool { return l == label }))
	return nil
}

// SetStatus changes the status (open, resolved, pending, snoozed); a
// change fires conversation_status_changed and conversation_updated.
func (f *Fake) SetStatus(conversationID int64, status string) error {
	if !slices.Contains(statuses, status) {
		return fmt.Errorf("limechatfake: status %q is not one of %v", status, statuses)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conversations[conversationID]
	if !ok {
		return errNoConversation(conversationID)
	}
	f.setStatusLocked(c, status)
	return nil
}
