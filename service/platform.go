package service

import (
	"errors"
	"time"
)

// This file holds the platform-neutral types the adapters' clients take and
// return, so that an adapter's concrete Client satisfies the small interfaces
// the service declares without the service importing any adapter.

// ErrNotFound is wrapped by adapters when a platform says a record, user,
// conversation or contact does not exist (LeadSquared's empty array included).
var ErrNotFound = errors.New("not found")

// ErrorClass tells the relay what to do with a failed platform call.
type ErrorClass int

// Error classes.
const (
	// ClassRetryable: transport errors before the request left, 5xx, non-JSON
	// failures. Retry with backoff.
	ClassRetryable ErrorClass = iota
	// ClassRateLimited: the platform's rate limit answered (LeadSquared 429,
	// 403 or 200 with MXAPIRateLimitExceededException). Pause the integration.
	ClassRateLimited
	// ClassPermanent: validation errors (LeadSquared MX…Exception, even as
	// HTTP 500; Chatwoot 4xx). Retrying cannot help.
	ClassPermanent
	// ClassUncertain: the request was written but no answer came (timeout,
	// connection reset after sending). The effect may or may not have happened.
	ClassUncertain
)

// String names the class for logs and audit rows.
func (c ErrorClass) String() string {
	switch c {
	case ClassRetryable:
		return "retryable"
	case ClassRateLimited:
		return "rate_limited"
	case ClassPermanent:
		return "permanent"
	case ClassUncertain:
		return "uncertain"
	}
	return "unknown"
}

// ClassifiedError is implemented by the adapters' error types.
type ClassifiedError interface {
	error
	Class() ErrorClass
	// RetryAfter is how long the platform asked us to wait, 0 when it did not say.
	RetryAfter() time.Duration
}

// ClassOf returns the class of err: the class of a ClassifiedError in its
// chain, else ClassRetryable (an unknown failure is worth another try).
func ClassOf(err error) (ErrorClass, time.Duration) {
	var ce ClassifiedError
	if errors.As(err, &ce) {
		return ce.Class(), ce.RetryAfter()
	}
	return ClassRetryable, 0
}

// User is a person on either platform, keyed across platforms by e-mail.
type User struct {
	// ID is the LeadSquared user GUID or the LimeChat agent id (decimal).
	ID        string
	Email     string
	FirstName string
	LastName  string
	Name      string
	Active    bool
}

// FieldMeta describes one LeadSquared field of a lead or an opportunity type,
// normalized from LeadsMetaData.Get / GetOpportunityTypeMetadata.
type FieldMeta struct {
	SchemaName  string
	DisplayName string
	// DataType is canonical: Text, Number, Email, Phone, Website, Date,
	// DateTime, Time, Select, MultiSelect, Boolean, or Unsupported (a type
	// lsqbridge cannot fill: files, users, products, custom field sets).
	// LeadSquared's own names vary (opportunity metadata says String,
	// SearchableDropdown, DateTime…): adapters map them (docs/leadsquared.md).
	DataType  string
	Required  bool
	Options   []string
	MaxLength int
	ReadOnly  bool
	// ParentField is the field whose value decides this field's options (an
	// opportunity's Stage depends on its Status); "" when none.
	ParentField string
	// OptionsByParent lists this field's options for each value of
	// ParentField. A parent value it does not list allows no value.
	OptionsByParent map[string][]string
}

// ActivityType is one LeadSquared activity type (ActivityTypes.Get).
type ActivityType struct {
	// Code is the ActivityEvent code that activities are posted with.
	Code int
	Name string
}

// Activity is a LeadSquared activity to post or as read back.
type Activity struct {
	ID         string
	EventCode  int
	Note       string
	OwnerEmail string // mandatory for opportunity activities
	DateTime   time.Time
	Fields     map[string]string
}

// OpportunityCapture is what Capture needs to create an opportunity.
type OpportunityCapture struct {
	// LeadID, when set, attaches the opportunity to that lead (SearchBy ProspectId).
	LeadID string
	// LeadFields identify or create the lead when LeadID is empty (EmailAddress,
	// Phone, FirstName, …); SearchBy is derived from what is present.
	LeadFields map[string]string
	TypeCode   int
	Note       string
	// Fields are the opportunity fields by schema name (mx_Custom_1, Status, Owner, …).
	Fields map[string]string
}

// CaptureResult is what Capture created.
type CaptureResult struct {
	OpportunityID string
	LeadID        string
	// Created is false when LeadSquared found a duplicate and created nothing.
	Created bool
}

// NewConversation is what LimeChat needs to open a ticket.
type NewConversation struct {
	InboxID          int64
	ContactID        int64
	AssigneeID       int64
	Status           string
	CustomAttributes map[string]any
	// Message, when set, is posted as the conversation's first message.
	Message string
}

// NewMessage is a message to post on a LimeChat conversation. lsqbridge
// posts only private ones: notes agents see and customers never do.
type NewMessage struct {
	Content string
	Private bool
}

// Message is a LimeChat (Chatwoot) conversation message as the API lists it.
type Message struct {
	ID      int64
	Content string
	Private bool
	// Outgoing is true for agents' messages and notes (message_type 1).
	Outgoing  bool
	CreatedAt time.Time
}

// FlowEvent is a Flow-builder custom event (POST /api/v1/cvf-events).
type FlowEvent struct {
	DistinctID string         `json:"distinct_id"`
	Phone      string         `json:"phone"`
	Event      string         `json:"event"`
	Data       map[string]any `json:"data"`
}
