package service

import (
	"slices"
	"time"
)

// Source names the platform an event came from.
type Source string

// The two platforms lsqbridge connects.
const (
	SourceLeadSquared Source = "leadsquared"
	SourceLimeChat    Source = "limechat"
)

// RecordKind says whether a LeadSquared record is a lead or an opportunity.
type RecordKind string

// Record kinds.
const (
	KindLead        RecordKind = "lead"
	KindOpportunity RecordKind = "opportunity"
)

// EventType is the normalized kind of an inbound change. LeadSquared's
// owner-changed and stage-changed webhooks normalize to the *Updated types:
// what changed is found by diffing, never trusted from the URL alone.
type EventType string

// Normalized event types.
const (
	EventLeadCreated               EventType = "lead_created"
	EventLeadUpdated               EventType = "lead_updated"
	EventOpportunityCreated        EventType = "opportunity_created"
	EventOpportunityUpdated        EventType = "opportunity_updated"
	EventConversationCreated       EventType = "conversation_created"
	EventConversationUpdated       EventType = "conversation_updated"
	EventConversationStatusChanged EventType = "conversation_status_changed"
	EventAutomation                EventType = "automation"
	// EventReconcile is a synthetic event the reconciler builds from a read of
	// both platforms; it goes through the same Apply path as a webhook.
	EventReconcile EventType = "reconcile"
)

// Event is one normalized inbound change, parsed from a webhook (or built by
// the reconciler). Parsers fill what the payload carries and leave the rest
// zero; the sync engine decides what it means against the link's state.
type Event struct {
	Source Source
	Type   EventType
	// DedupKey identifies the delivery: LimeChat's X-Chatwoot-Delivery header
	// when present, else SHA-256 of event name + body (LeadSquared sends no
	// delivery id). A repeat with the same key is acknowledged as duplicate.
	DedupKey string
	// OccurredAt is the source timestamp (LeadSquared After.ModifiedOn,
	// Chatwoot updated_at/timestamp), zero when the payload carries none.
	// Events older than the last one seen for a link's side are stale.
	OccurredAt time.Time

	// Record is set for LeadSquared events: the record as it is now (After).
	Record *Record
	// Before holds the LeadSquared Before snapshot when the payload had one.
	Before map[string]string
	// Changed lists the schema names whose value differs between Before and
	// After (sorted); nil when the payload had no Before.
	Changed []string

	// Ticket is set for LimeChat events: the conversation as the payload shows it.
	Ticket *Ticket
	// AssigneeChanged and LabelsChanged report which of the attributes we
	// sync appear in Chatwoot's changed_attributes.
	AssigneeChanged bool
	LabelsChanged   bool
	// PreviousAssigneeID and PreviousLabels are changed_attributes' previous values.
	PreviousAssigneeID int64
	PreviousLabels     []string
	// ReadAt is when the reconciler read the snapshot (EventReconcile only).
	ReadAt time.Time
	// Automation is the rule event name of an automation_event.* webhook
	// ("conversation_created" for automation_event.conversation_created).
	Automation string
	// Item is this event's own record as JSON when the delivery was a batch
	// (a LeadSquared array): the batch's body is stored once, each record's
	// row keeps its item.
	Item []byte `json:"-"`
}

// Record is a LeadSquared lead or opportunity: the identifiers the sync needs
// plus every attribute as LeadSquared sent it (values are strings there).
type Record struct {
	Kind RecordKind
	// ID is the ProspectID of a lead or the OpportunityId of an opportunity.
	ID string
	// LeadID is the lead an opportunity belongs to (RelatedProspectId); for a
	// lead it equals ID.
	LeadID string
	// OwnerID is the owner's user GUID: OwnerId on a lead, Owner on an opportunity.
	OwnerID string
	// OwnerEmail is OwnerIdEmailAddress when LeadSquared sent it.
	OwnerEmail string
	// ModifiedBy is the user GUID of the last writer, when sent.
	ModifiedBy string
	// ModifiedOn is the record's ModifiedOn in UTC, zero when absent.
	ModifiedOn time.Time
	// CreatedOn is the record's CreatedOn in UTC, zero when absent: records
	// created before the integration's sync-since time are out of scope.
	CreatedOn time.Time
	// OpportunityType is the opportunity type code (OpportunityEventCode), 0 for leads.
	OpportunityType int
	// Fields holds every attribute by schema name (FirstName, EmailAddress,
	// Phone, ProspectStage, Status, mx_Custom_2, mx_City, …).
	Fields map[string]string
}

// Field returns the value of a schema name, "" when absent.
func (r *Record) Field(name string) string {
	if r == nil || r.Fields == nil {
		return ""
	}
	return r.Fields[name]
}

// Ticket is a LimeChat conversation as a webhook or the API shows it.
type Ticket struct {
	// ID is the per-account display id used in every API path.
	ID        int64
	AccountID int64
	InboxID   int64
	Status    string
	// AssigneeID is the assigned agent, 0 when unassigned.
	AssigneeID int64
	// AssigneeEmail is set only by the REST API (webhook assignees carry no e-mail).
	AssigneeEmail    string
	Labels           []string
	CustomAttributes map[string]any
	Contact          Contact
	// UpdatedAt is the conversation's updated_at/timestamp, zero when absent.
	UpdatedAt time.Time
}

// HasLabel reports whether the ticket carries label l.
func (t Ticket) HasLabel(l string) bool { return slices.Contains(t.Labels, l) }

// Contact is a LimeChat (Chatwoot) contact.
type Contact struct {
	ID    int64
	Name  string
	Email string
	// Phone is E.164 with a leading + as Chatwoot stores it.
	Phone            string
	Identifier       string
	CustomAttributes map[string]any
}
