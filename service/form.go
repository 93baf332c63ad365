package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// This file builds the opportunity form of a ticket: the fields of the
// integration's opportunity type (LeadSquared metadata, cached briefly),
// pre-filled from the LimeChat conversation and contact through the
// integration's form.prefill map. form_submit.go submits it,
// form_automation.go submits it for automation rules, form_link.go signs
// the agent page's links.

// ErrFormNotConfigured is returned when the integration has no
// form.opportunity_type: it has no opportunity form.
var ErrFormNotConfigured = errors.New("this integration has no opportunity form (set form.opportunity_type in its configuration)")

// ErrTicketNotFound is returned when LimeChat does not know the ticket.
var ErrTicketNotFound = errors.New("no such ticket in LimeChat")

// Forms serves the opportunity form: it builds a ticket's form, validates
// and submits it (capture in LeadSquared, link to the ticket), and runs the
// same submission for LimeChat automation rules.
type Forms struct {
	pool      *pgxpool.Pool
	q         *db.Queries
	platforms Platforms
	sync      *Sync
	agents    *AgentDirectory
	notify    func()
	log       *slog.Logger
	now       func() time.Time
	metaTTL   time.Duration
	stuck     time.Duration

	mu   sync.Mutex
	meta map[metaKey]cachedMeta
}

// FormsConfig holds the form service's collaborators and settings.
type FormsConfig struct {
	Platforms Platforms
	// Sync records automation deliveries in inbound_events (optional).
	Sync *Sync
	// Agents, when set, is refreshed (rate-limited) when a ticket's agent is
	// not in the directory yet, so a new agent's submission gets its owner.
	Agents *AgentDirectory
	// Notify wakes the relay after a submission enqueued actions.
	Notify func()
	Logger *slog.Logger
	// MetadataTTL is how long opportunity-type metadata is cached (5 min).
	MetadataTTL time.Duration
	// StuckAfter is when an unfinished submission is reported as stuck
	// rather than in progress (2 min).
	StuckAfter time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// NewForms returns the form service.
func NewForms(pool *pgxpool.Pool, cfg FormsConfig) *Forms {
	f := &Forms{
		pool: pool, q: db.New(pool), platforms: cfg.Platforms, sync: cfg.Sync, agents: cfg.Agents,
		notify: cfg.Notify, log: cfg.Logger, now: cfg.Now,
		metaTTL: cmp.Or(cfg.MetadataTTL, 5*time.Minute), stuck: cmp.Or(cfg.StuckAfter, 2*time.Minute),
		meta: map[metaKey]cachedMeta{},
	}
	if f.notify == nil {
		f.notify = func() {}
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f
}

// Form is a ticket's opportunity form, as GET …/opportunity-form answers it.
type Form struct {
	IntegrationID   string      `json:"integration_id"`
	TicketID        int64       `json:"ticket_id"`
	OpportunityType int         `json:"opportunity_type"`
	Contact         FormContact `json:"contact"`
	// AgentEmail is the ticket's assigned agent; the opportunity's Owner is
	// the LeadSquared user with that e-mail (OwnerMatched says one exists).
	AgentEmail   string `json:"agent_email"`
	OwnerMatched bool   `json:"owner_matched"`
	// Linked is set when the ticket already belongs to a LeadSquared record:
	// a submission then opens a new ticket for the new opportunity.
	Linked *FormLinked `json:"linked"`
	Fields []FormField `json:"fields"`

	// phoneProblem says why the contact's phone number cannot be used.
	phoneProblem string
}

// FormContact is the ticket's customer, who becomes (or is found as) the lead.
type FormContact struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// FormLinked names the record a ticket is already linked to.
type FormLinked struct {
	RecordKind RecordKind `json:"record_kind"`
	RecordID   string     `json:"record_id"`
}

// FormField is one field of the form: LeadSquared's definition and the
// value pre-filled from LimeChat ("" when none).
type FormField struct {
	Schema string `json:"schema"`
	Label  string `json:"label"`
	// Type is the canonical data type: Text, Number, Email, Phone, Website,
	// Date, DateTime, Time, Select, MultiSelect, Boolean, or Unsupported (a
	// mandatory field lsqbridge cannot fill).
	Type     string `json:"type"`
	Required bool   `json:"required"`
	// Options are the values a Select or MultiSelect takes; for a dependent
	// dropdown, those its parent's pre-filled value allows.
	Options   []string `json:"options"`
	MaxLength int      `json:"max_length,omitempty"`
	// Value is the pre-filled value as LeadSquared takes it: a date
	// YYYY-MM-DD, a date-time "YYYY-MM-DD HH:MM:SS" in UTC, a multi-select's
	// options joined with ";". A pre-filled value that cannot be read as its
	// type is shown as it came, and refused.
	Value string `json:"value"`
	// Source is the prefill source the value came from ("" when none).
	Source string `json:"source,omitempty"`
	// ParentField names the field whose value decides this one's options
	// (Stage depends on Status), with the options for each of its values.
	ParentField     string              `json:"parent_field,omitempty"`
	OptionsByParent map[string][]string `json:"options_by_parent,omitempty"`
}

// hiddenFields are system fields the form never shows: LeadSquared sets
// them, and Owner comes from the ticket's agent.
var hiddenFields = map[string]bool{
	"Owner": true, "OwnerId": true, "OwnerIdName": true, "OwnerName": true,
	"CreatedOn": true, "CreatedBy": true, "CreatedByName": true,
	"ModifiedOn": true, "ModifiedBy": true, "ModifiedByName": true,
	"OpportunityId": true, "ProspectOpportunityId": true, "ProspectActivityId": true,
	"RelatedProspectId": true, "ProspectID": true, "ProspectId": true,
	"OpportunityEventCode": true, "ActivityEvent": true,
}

// ticketContext is what a form is built from: the conversation, its
// contact, its agent and the link the ticket already has.
type ticketContext struct {
	ticket  Ticket
	contact Contact
	// agentEmail is the assigned agent's lower-cased e-mail, "" when none.
	agentEmail string
	// ownerID is the LeadSquared user with agentEmail, "" when none.
	ownerID string
	linked  *FormLinked
}

type metaKey struct {
	integration string
	code        int
}

type cachedMeta struct {
	fields  []FieldMeta
	fetched time.Time
}

// metadata returns the opportunity type's fields, from the cache when they
// were read within the TTL (the form is opened far more often than an
// admin changes the type).
func (f *Forms) metadata(ctx context.Context, in *Integration, lsq LeadSquared) ([]FieldMeta, error) {
	k := metaKey{in.ID, in.Rules.Form.OpportunityType}
	f.mu.Lock()
	c, ok := f.meta[k]
	f.mu.Unlock()
	if ok && f.now().Sub(c.fetched) < f.metaTTL {
		return c.fields, nil
	}
	fields, err := lsq.OpportunityTypeMetadata(ctx, k.code)
	if err != nil {
		return nil, fmt.Errorf("read opportunity type %d from LeadSquared: %w", k.code, err)
	}
	f.mu.Lock()
	f.meta[k] = cachedMeta{fields: fields, fetched: f.now()}
	f.mu.Unlock()
	return fields, nil
}

// Form returns the opportunity form of a ticket with its pre-filled values.
func (f *Forms) Form(ctx context.Context, in *Integration, ticketID int64) (*Form, error) {
	if in.Rules.Form.OpportunityType <= 0 {
		return nil, ErrFormNotConfigured
	}
	c := f.platforms.For(in)
	meta, err := f.metadata(ctx, in, c.LeadSquared)
	if err != nil {
		return nil, err
	}
	tc, err := f.loadTicket(ctx, in, c.LimeChat, ticketID)
	if err != nil {
		return nil, err
	}
	return buildForm(in, meta, tc), nil
}

// loadTicket reads the conversation and its contact from LimeChat, the
// agent's LeadSquared user from the directory, and the ticket's link.
func (f *Forms) loadTicket(ctx context.Context, in *Integration, lc LimeChat, ticketID int64) (*ticketContext, error) {
	t, err := lc.GetConversation(ctx, ticketID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %d", ErrTicketNotFound, ticketID)
	}
	if err != nil {
		return nil, fmt.Errorf("read ticket %d from LimeChat: %w", ticketID, err)
	}
	tc := &ticketContext{ticket: t, contact: t.Contact}
	if t.Contact.ID != 0 {
		// The conversation's sender is a partial; custom attributes are
		// complete only on the contact itself.
		full, err := lc.Contact(ctx, t.Contact.ID)
		switch {
		case err == nil:
			tc.contact = full
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("read contact %d from LimeChat: %w", t.Contact.ID, err)
		}
	}
	if tc.contact.CustomAttributes == nil {
		tc.contact.CustomAttributes = map[string]any{}
	}
	tc.agentEmail = strings.ToLower(strings.TrimSpace(t.AssigneeEmail))
	if tc.agentEmail == "" && t.AssigneeID != 0 {
		id := t.AssigneeID
		if r, err := f.q.AgentGetByLimeChatAgent(ctx, db.AgentGetByLimeChatAgentParams{IntegrationID: in.ID, LimechatAgentID: &id}); err == nil {
			tc.agentEmail = r.Email
		}
	}
	if tc.ownerID, err = f.ownerFor(ctx, in, tc.agentEmail); err != nil {
		return nil, err
	}
	row, err := f.q.LinkGetByTicket(ctx, db.LinkGetByTicketParams{IntegrationID: in.ID, TicketID: &ticketID})
	switch {
	case err == nil:
		tc.linked = &FormLinked{RecordKind: RecordKind(row.RecordKind), RecordID: row.RecordID}
	case db.IsNotFound(err):
		if kind, rid := ticketRecord(&t); rid != "" {
			// Opened by lsqbridge for a record; its link may not know the
			// ticket id yet.
			tc.linked = &FormLinked{RecordKind: RecordKind(kind), RecordID: rid}
		}
	default:
		return nil, fmt.Errorf("read link of ticket %d: %w", ticketID, err)
	}
	return tc, nil
}

// ownerFor returns the active LeadSquared user with the agent's e-mail,
// refreshing the directory once (rate-limited) when the agent is unknown.
func (f *Forms) ownerFor(ctx context.Context, in *Integration, email string) (string, error) {
	if email == "" {
		return "", nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		r, err := f.q.AgentGetByEmail(ctx, db.AgentGetByEmailParams{IntegrationID: in.ID, Email: email})
		if err == nil && r.LsqUserID != nil && r.LsqActive {
			return *r.LsqUserID, nil
		}
		if err != nil && !db.IsNotFound(err) {
			return "", fmt.Errorf("read agent %s: %w", email, err)
		}
		if f.agents == nil || attempt > 0 {
			break
		}
		if err := f.agents.RefreshIfDue(ctx, in); err != nil {
			f.log.Warn("refresh agent directory for the form", "integration", in.ID, "err", err)
			break
		}
	}
	return "", nil
}

// buildForm assembles the form: visible fields in metadata order, each with
// its pre-filled value. A new opportunity is Open unless the prefill map
// says otherwise, as LeadSquared's own form defaults it.
func buildForm(in *Integration, meta []FieldMeta, tc *ticketContext) *Form {
	form := &Form{
		IntegrationID: in.ID, TicketID: tc.ticket.ID, OpportunityType: in.Rules.Form.OpportunityType,
		Contact:    FormContact{ID: tc.contact.ID, Name: tc.contact.Name, Email: tc.contact.Email, Phone: tc.contact.Phone},
		AgentEmail: tc.agentEmail, OwnerMatched: tc.ownerID != "", Linked: tc.linked,
		Fields: []FormField{},
	}
	// The contact's number as LimeChat keeps it (E.164), completed with the
	// default country code; one that cannot be completed is shown as it is.
	if p := strings.TrimSpace(tc.contact.Phone); p != "" {
		if _, err := PhoneDigits(p, in.Rules.Phone.DefaultCountryCode); err != nil {
			form.phoneProblem = err.Error()
		} else {
			form.Contact.Phone = ContactPhone(p, in.Rules.Phone.DefaultCountryCode)
		}
	}
	norm := newPrefillNormalizer(&in.Rules)
	for _, m := range meta {
		if m.ReadOnly || hiddenFields[m.SchemaName] || m.SchemaName == "" {
			continue
		}
		if m.DataType == TypeUnsupported && !m.Required {
			continue // nothing to fill, nothing missing
		}
		ff := FormField{
			Schema: m.SchemaName, Label: cmp.Or(m.DisplayName, m.SchemaName), Type: cmp.Or(m.DataType, "Text"),
			Required: m.Required, Options: slices.Clone(m.Options), MaxLength: m.MaxLength,
		}
		if m.ParentField != "" && m.OptionsByParent != nil {
			ff.ParentField = m.ParentField
			ff.OptionsByParent = maps.Clone(m.OptionsByParent)
		}
		if src, ok := in.Rules.Form.Prefill[m.SchemaName]; ok {
			ff.Source = src
			ff.Value = norm.value(ff.Type, prefillRaw(src, tc))
		} else if m.SchemaName == "Status" && slices.Contains(ff.Options, "Open") {
			ff.Value = "Open"
		}
		form.Fields = append(form.Fields, ff)
	}
	// A dependent dropdown offers what its parent's pre-filled value allows.
	values := make(map[string]string, len(form.Fields))
	for _, f := range form.Fields {
		values[f.Schema] = f.Value
	}
	for i, f := range form.Fields {
		if f.ParentField != "" {
			opts, _ := allowedOptions(f, values)
			form.Fields[i].Options = slices.Clone(opts)
		}
		if form.Fields[i].Options == nil {
			form.Fields[i].Options = []string{}
		}
	}
	return form
}

// prefill reads one prefill source (see FormRules.Prefill) from the ticket
// as text. Unknown sources and absent attributes give "".
func prefill(src string, tc *ticketContext) string { return attrString(prefillRaw(src, tc)) }

// prefillRaw reads one prefill source: text, or a custom attribute's JSON
// value as LimeChat holds it (a list stays a list, for a multi-select).
func prefillRaw(src string, tc *ticketContext) any {
	ct := tc.contact
	switch src {
	case "contact.name":
		return strings.TrimSpace(ct.Name)
	case "contact.first_name":
		first, _ := splitName(ct.Name)
		return first
	case "contact.last_name":
		_, last := splitName(ct.Name)
		return last
	case "contact.email":
		return strings.TrimSpace(ct.Email)
	case "contact.phone":
		return strings.TrimSpace(ct.Phone)
	case "agent.email":
		return tc.agentEmail
	case "conversation.id":
		return strconv.FormatInt(tc.ticket.ID, 10)
	}
	if v, ok := strings.CutPrefix(src, "contact.custom_attributes."); ok {
		return ct.CustomAttributes[v]
	}
	if v, ok := strings.CutPrefix(src, "conversation.custom_attributes."); ok {
		return tc.ticket.CustomAttributes[v]
	}
	if v, ok := strings.CutPrefix(src, "literal:"); ok {
		return v
	}
	return ""
}

// splitName splits "Priya Shah Rao" into "Priya" and "Shah Rao".
func splitName(name string) (first, last string) {
	first, last, _ = strings.Cut(strings.TrimSpace(name), " ")
	return first, strings.TrimSpace(last)
}

// attrString renders a Chatwoot custom attribute (JSON scalar) as text.
func attrString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return "" // objects and lists are not form values
}
