package service

import (
	"context"
	"time"
)

// LeadSquared is what lsqbridge asks of LeadSquared; adapters/leadsquared's
// Client satisfies it.
type LeadSquared interface {
	GetLead(ctx context.Context, id string) (Record, error)
	FindLeadByPhone(ctx context.Context, phone string) (Record, error)
	FindLeadByEmail(ctx context.Context, email string) (Record, error)
	CreateLead(ctx context.Context, fields map[string]string) (string, error)
	UpdateLead(ctx context.Context, leadID string, fields map[string]string) error
	Users(ctx context.Context) ([]User, error)
	CaptureOpportunity(ctx context.Context, c OpportunityCapture) (CaptureResult, error)
	UpdateOpportunity(ctx context.Context, id string, fields map[string]string) error
	GetOpportunity(ctx context.Context, id string) (Record, error)
	OpportunitiesOfLead(ctx context.Context, leadID string, typeCode int) ([]Record, error)
	OpportunityTypeMetadata(ctx context.Context, code int) ([]FieldMeta, error)
	PostLeadActivity(ctx context.Context, leadID string, a Activity) (string, error)
	PostOpportunityActivity(ctx context.Context, opportunityID string, a Activity) (string, error)
	LeadActivities(ctx context.Context, leadID string, eventCode int) ([]Activity, error)
	RecentlyModifiedLeads(ctx context.Context, from, to time.Time) ([]Record, error)
}

// LimeChat is what lsqbridge asks of the LimeChat helpdesk; adapters/limechat's
// Client satisfies it.
type LimeChat interface {
	SearchContacts(ctx context.Context, q string) ([]Contact, error)
	Contact(ctx context.Context, id int64) (Contact, error)
	CreateContact(ctx context.Context, inboxID int64, c Contact) (Contact, error)
	CreateConversation(ctx context.Context, nc NewConversation) (Ticket, error)
	GetConversation(ctx context.Context, id int64) (Ticket, error)
	FindConversationsByAttribute(ctx context.Context, key, value string) ([]Ticket, error)
	Assign(ctx context.Context, conversationID, agentID int64) error
	Labels(ctx context.Context, conversationID int64) ([]string, error)
	SetLabels(ctx context.Context, conversationID int64, labels []string) ([]string, error)
	Agents(ctx context.Context) ([]User, error)
	PostMessage(ctx context.Context, conversationID int64, m NewMessage) (Message, error)
	Messages(ctx context.Context, conversationID int64, limit int) ([]Message, error)
}

// FlowBuilder sends Flow-builder custom events.
type FlowBuilder interface {
	SendEvent(ctx context.Context, ev FlowEvent) error
}

// Clients are one integration's platform clients.
type Clients struct {
	LeadSquared LeadSquared
	LimeChat    LimeChat
	// FlowBuilder is nil when the integration has no Flow-builder settings.
	FlowBuilder FlowBuilder
}

// Platforms builds the clients for an integration; cmd wires the adapters
// (or, in the sandbox and tests, clients pointed at the fakes).
type Platforms interface {
	For(in *Integration) Clients
}
