package service_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// The service's seam to the platforms is service.Platforms (platforms.go):
// these are small in-memory platforms behind it, with people's changes
// made directly (no webhook is sent: a test feeds the events it wants) and
// faults injected per call. A call a stub does not implement panics on its
// nil embedded interface, which the relay records as a dead action: a test
// expecting delivery then fails naming it.

// clock hands out platform times: now to the millisecond, strictly
// increasing, so changes made one after another never share a time.
type clock struct {
	mu   sync.Mutex
	last time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := time.Now().UTC().Truncate(time.Millisecond)
	if !t.After(c.last) {
		t = c.last.Add(time.Millisecond)
	}
	c.last = t
	return t
}

// platformError is a classified platform failure (as the adapters return).
type platformError struct {
	class service.ErrorClass
	after time.Duration
	msg   string
}

func (e *platformError) Error() string                 { return e.msg }
func (e *platformError) Class() service.ErrorClass     { return e.class }
func (e *platformError) RetryAfter() (d time.Duration) { return e.after }
func transient(msg string) *platformError {
	return &platformError{class: service.ClassRetryable, msg: msg}
}
func permanent(msg string) *platformError {
	return &platformError{class: service.ClassPermanent, msg: msg}
}
func uncertain(msg string) *platformError {
	return &platformError{class: service.ClassUncertain, msg: msg}
}
func rateLimited(after time.Duration, msg string) *platformError {
	return &platformError{class: service.ClassRateLimited, after: after, msg: msg}
}

// fault is an injected failure of one call: the call fails with err,
// before its effect, or after it when landed (an answer lost on the way back).
type fault struct {
	err    error
	landed bool
}

// faults are queued per operation and consumed one per call.
type faults struct {
	queued map[string][]fault
}

func (f *faults) add(op string, ft ...fault) {
	if f.queued == nil {
		f.queued = map[string][]fault{}
	}
	f.queued[op] = append(f.queued[op], ft...)
}

func (f *faults) next(op string) (fault, bool) {
	q := f.queued[op]
	if len(q) == 0 {
		return fault{}, false
	}
	f.queued[op] = q[1:]
	return q[0], true
}

// stubLimeChat is a helpdesk: conversations, contacts, agents, messages.
type stubLimeChat struct {
	service.LimeChat
	mu      sync.Mutex
	clock   *clock
	agents  []service.User
	convs   map[int64]*service.Ticket
	people  []service.Contact
	notes   map[int64][]service.Message
	next    int64
	calls   []string
	faults  faults
	inboxID int64
}

func newStubLimeChat(c *clock, inbox int64) *stubLimeChat {
	return &stubLimeChat{clock: c, convs: map[int64]*service.Ticket{}, notes: map[int64][]service.Message{}, next: 100, inboxID: inbox}
}

// call logs a call and returns its injected fault, if any.
func (s *stubLimeChat) call(op string, args ...any) (fault, bool) {
	s.calls = append(s.calls, strings.TrimSpace(op+" "+fmt.Sprint(args...)))
	return s.faults.next(op)
}

// Calls returns the calls of one operation made so far, with their arguments.
func (s *stubLimeChat) Calls(op string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if c == op || strings.HasPrefix(c, op+" ") {
			out = append(out, c)
		}
	}
	return out
}

// forgetCalls clears the call log (a test's setup is not what it checks).
func (s *stubLimeChat) forgetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

func (s *stubLimeChat) fail(op string, ft ...fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.add(op, ft...)
}

func (s *stubLimeChat) Agents(context.Context) ([]service.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.agents), nil
}

func (s *stubLimeChat) conv(id int64) (*service.Ticket, error) {
	t, ok := s.convs[id]
	if !ok {
		return nil, fmt.Errorf("conversation %d: %w", id, service.ErrNotFound)
	}
	return t, nil
}

func copyTicket(t *service.Ticket) service.Ticket {
	c := *t
	c.Labels = slices.Clone(t.Labels)
	c.CustomAttributes = maps.Clone(t.CustomAttributes)
	return c
}

func (s *stubLimeChat) GetConversation(_ context.Context, id int64) (service.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.call("get_conversation", id); ok {
		return service.Ticket{}, f.err
	}
	t, err := s.conv(id)
	if err != nil {
		return service.Ticket{}, err
	}
	return copyTicket(t), nil
}

func (s *stubLimeChat) Assign(_ context.Context, conversationID, agentID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, failed := s.call("assign", conversationID, agentID)
	if failed && !f.landed {
		return f.err
	}
	t, err := s.conv(conversationID)
	if err != nil {
		return err
	}
	t.AssigneeID, t.UpdatedAt = agentID, s.clock.now()
	return f.err
}

func (s *stubLimeChat) Labels(_ context.Context, conversationID int64) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.conv(conversationID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(t.Labels), nil
}

func (s *stubLimeChat) SetLabels(_ context.Context, conversationID int64, labels []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, failed := s.call("set_labels", conversationID, labels)
	if failed && !f.landed {
		return nil, f.err
	}
	t, err := s.conv(conversationID)
	if err != nil {
		return nil, err
	}
	t.Labels, t.UpdatedAt = slices.Clone(labels), s.clock.now()
	return slices.Clone(labels), f.err
}

func (s *stubLimeChat) SearchContacts(_ context.Context, q string) ([]service.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []service.Contact
	for _, c := range s.people {
		if q != "" && (c.Phone == q || strings.EqualFold(c.Email, q)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *stubLimeChat) CreateContact(_ context.Context, _ int64, c service.Contact) (service.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.call("create_contact", c.Name); ok {
		return service.Contact{}, f.err
	}
	s.next++
	c.ID = s.next
	s.people = append(s.people, c)
	return c, nil
}

func (s *stubLimeChat) CreateConversation(_ context.Context, nc service.NewConversation) (service.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, failed := s.call("create_conversation", nc.ContactID)
	if failed && !f.landed {
		return service.Ticket{}, f.err
	}
	s.next++
	t := &service.Ticket{ID: s.next, InboxID: nc.InboxID, Status: nc.Status, AssigneeID: nc.AssigneeID, Labels: []string{},
		CustomAttributes: maps.Clone(nc.CustomAttributes), UpdatedAt: s.clock.now()}
	for _, c := range s.people {
		if c.ID == nc.ContactID {
			t.Contact = c
		}
	}
	s.convs[t.ID] = t
	if failed {
		return service.Ticket{}, f.err
	}
	return copyTicket(t), nil
}

func (s *stubLimeChat) FindConversationsByAttribute(_ context.Context, key, value string) ([]service.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []service.Ticket
	for _, id := range slices.Sorted(maps.Keys(s.convs)) {
		if t := s.convs[id]; fmt.Sprint(t.CustomAttributes[key]) == value {
			out = append(out, copyTicket(t))
		}
	}
	return out, nil
}

func (s *stubLimeChat) PostMessage(_ context.Context, conversationID int64, m service.NewMessage) (service.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.call("post_message", conversationID); ok {
		return service.Message{}, f.err
	}
	s.next++
	msg := service.Message{ID: s.next, Content: m.Content, Private: m.Private, Outgoing: true, CreatedAt: s.clock.now()}
	s.notes[conversationID] = append(s.notes[conversationID], msg)
	return msg, nil
}

func (s *stubLimeChat) Messages(_ context.Context, conversationID int64, limit int) ([]service.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.notes[conversationID]
	return slices.Clone(m[max(0, len(m)-limit):]), nil
}

// Conversations returns every conversation, oldest first.
func (s *stubLimeChat) Conversations() []service.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []service.Ticket
	for _, id := range slices.Sorted(maps.Keys(s.convs)) {
		out = append(out, copyTicket(s.convs[id]))
	}
	return out
}

// Conversation returns one conversation as it is now.
func (s *stubLimeChat) Conversation(id int64) service.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.convs[id]
	if !ok {
		return service.Ticket{}
	}
	return copyTicket(t)
}

// PrivateNotes returns the private notes posted on a conversation.
func (s *stubLimeChat) PrivateNotes(id int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.notes[id] {
		if m.Private {
			out = append(out, m.Content)
		}
	}
	return out
}

// PersonAssigns is an agent assigning a conversation in LimeChat's UI; it
// returns the conversation as its webhook would show it.
func (s *stubLimeChat) PersonAssigns(id, agentID int64) service.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.convs[id]
	t.AssigneeID, t.UpdatedAt = agentID, s.clock.now()
	return copyTicket(t)
}

// PersonLabels is an agent adding a label in LimeChat's UI.
func (s *stubLimeChat) PersonLabels(id int64, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.convs[id]
	t.Labels, t.UpdatedAt = append(t.Labels, label), s.clock.now()
}

// stubLeadSquared is a CRM with users and leads.
type stubLeadSquared struct {
	service.LeadSquared
	mu     sync.Mutex
	clock  *clock
	apiID  string
	users  []service.User
	leads  map[string]*service.Record
	calls  []string
	faults faults
}

func newStubLeadSquared(c *clock, apiUser string) *stubLeadSquared {
	return &stubLeadSquared{clock: c, apiID: apiUser, leads: map[string]*service.Record{}}
}

// forgetCalls clears the call log (a test's setup is not what it checks).
func (s *stubLeadSquared) forgetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

func (s *stubLeadSquared) fail(op string, ft ...fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.add(op, ft...)
}

// Calls returns the calls of one operation made so far, with their arguments.
func (s *stubLeadSquared) Calls(op string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if c == op || strings.HasPrefix(c, op+" ") {
			out = append(out, c)
		}
	}
	return out
}

func (s *stubLeadSquared) Users(context.Context) ([]service.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.users), nil
}

func (s *stubLeadSquared) emailOf(userID string) string {
	for _, u := range s.users {
		if u.ID == userID {
			return u.Email
		}
	}
	return ""
}

func copyRecord(r *service.Record) service.Record {
	c := *r
	c.Fields = maps.Clone(r.Fields)
	return c
}

func (s *stubLeadSquared) GetLead(_ context.Context, id string) (service.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.leads[id]
	if !ok {
		return service.Record{}, fmt.Errorf("lead %s: %w", id, service.ErrNotFound)
	}
	return copyRecord(r), nil
}

func (s *stubLeadSquared) UpdateLead(_ context.Context, id string, fields map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(maps.Keys(fields))
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+"="+fields[k])
	}
	s.calls = append(s.calls, "update_lead "+id+" "+strings.Join(kv, ","))
	if f, ok := s.faults.next("update_lead"); ok && !f.landed {
		return f.err
	}
	r, ok := s.leads[id]
	if !ok {
		return fmt.Errorf("lead %s: %w", id, service.ErrNotFound)
	}
	s.change(r, s.apiID, fields)
	return nil
}

// change writes fields to a lead as user by would.
func (s *stubLeadSquared) change(r *service.Record, by string, fields map[string]string) {
	for k, v := range fields {
		r.Fields[k] = v
		if k == "OwnerId" {
			r.OwnerID, r.OwnerEmail = v, s.emailOf(v)
		}
	}
	r.ModifiedBy, r.ModifiedOn = by, s.clock.now()
	r.Fields["ModifiedOn"] = r.ModifiedOn.Format("2006-01-02 15:04:05.000")
}

func (s *stubLeadSquared) RecentlyModifiedLeads(_ context.Context, from, to time.Time) ([]service.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.faults.next("recently_modified"); ok {
		return nil, f.err
	}
	var out []service.Record
	for _, r := range s.leads {
		if !r.ModifiedOn.Before(from) && r.ModifiedOn.Before(to) {
			out = append(out, copyRecord(r))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ModifiedOn.Before(out[j].ModifiedOn) })
	return out, nil
}

// PersonCreatesLead is a salesperson creating a lead; it returns the lead
// as its created webhook would show it.
func (s *stubLeadSquared) PersonCreatesLead(id, owner string, fields map[string]string) service.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.now()
	r := &service.Record{Kind: service.KindLead, ID: id, LeadID: id, Fields: maps.Clone(fields), CreatedOn: now}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	s.change(r, owner, map[string]string{"OwnerId": owner})
	r.CreatedOn = r.ModifiedOn
	s.leads[id] = r
	return copyRecord(r)
}

// PersonChangesLead is a salesperson changing a lead's fields (OwnerId for
// its owner); it returns the lead before and after.
func (s *stubLeadSquared) PersonChangesLead(id, by string, fields map[string]string) (before, after service.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.leads[id]
	before = copyRecord(r)
	s.change(r, by, fields)
	return before, copyRecord(r)
}

// Lead returns a lead as it is now.
func (s *stubLeadSquared) Lead(id string) service.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyRecord(s.leads[id])
}

// stubPlatforms gives every integration the same two stubs.
type stubPlatforms struct {
	lsq *stubLeadSquared
	lc  *stubLimeChat
}

func (p stubPlatforms) For(*service.Integration) service.Clients {
	return service.Clients{LeadSquared: p.lsq, LimeChat: p.lc}
}
