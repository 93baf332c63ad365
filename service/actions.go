package service

// Action kinds: what the relay can do on each platform.
const (
	ActCreateTicket = "limechat.create_ticket"
	ActAssign       = "limechat.assign"
	ActAddLabels    = "limechat.add_labels"
	ActRemoveLabels = "limechat.remove_labels"
	ActFlowEvent    = "limechat.flow_event"
	ActSetOwner     = "leadsquared.set_owner"
	ActSetFields    = "leadsquared.set_fields"
	ActPostActivity = "leadsquared.post_activity"
	// ActPostNote posts a private note on the ticket saying what could not
	// be mirrored and what to do (notes.go). It is unordered: a dead
	// action of its link does not hold it, and it holds nothing.
	ActPostNote = "limechat.post_note"
	// ActFollowTicket moves a link to its record's next conversation when
	// the customer wrote again after the ticket was closed (followup.go).
	ActFollowTicket = "limechat.follow_ticket"
)

// Action is one thing to do on a platform, as decide produces it; the sync
// engine writes it to the outbox in the same transaction as the link state.
type Action struct {
	Kind    string
	Payload any
	// Key distinguishes actions of one event (several labels, say); the
	// outbox idempotency key is built from the event id and this.
	Key string
	// Once, when set, replaces the event-scoped key: the action is enqueued
	// at most once per link for this cause, whatever event asks for it
	// again (a note about an unmatched owner). See onceKey.
	Once string
	// Unordered puts the action outside its link's order (notes).
	Unordered bool
}

// CreateTicketPayload opens a LimeChat ticket for a record.
type CreateTicketPayload struct {
	RecordKind RecordKind `json:"record_kind"`
	RecordID   string     `json:"record_id"`
	LeadID     string     `json:"lead_id"`
	Name       string     `json:"name"`
	Email      string     `json:"email,omitempty"`
	Phone      string     `json:"phone,omitempty"`
	// AgentEmail is the owner's e-mail; the deliverer assigns the agent it
	// maps to at delivery time, so a directory refresh in between counts.
	AgentEmail       string         `json:"agent_email,omitempty"`
	Labels           []string       `json:"labels,omitempty"`
	CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
}

// AssignPayload makes the agent with Email the ticket's assignee.
type AssignPayload struct {
	Email   string `json:"email"`
	AgentID int64  `json:"agent_id"`
}

// AddLabelsPayload adds labels to the ticket (read, union, write).
type AddLabelsPayload struct {
	Labels []string `json:"labels"`
}

// RemoveLabelsPayload removes labels from the ticket (read, remove, write):
// only ever to undo a label write of ours that raced a person's change.
type RemoveLabelsPayload struct {
	Labels []string `json:"labels"`
}

// FlowEventPayload is a Flow-builder event to send once.
type FlowEventPayload struct {
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Phone      string         `json:"phone"`
	Data       map[string]any `json:"data"`
	// PhoneProblem says why the record's number could not be used, when it
	// had one (the deliverer then tries the ticket's contact).
	PhoneProblem string `json:"phone_problem,omitempty"`
}

// SetOwnerPayload makes the LeadSquared user with Email the record's owner.
type SetOwnerPayload struct {
	Email  string `json:"email"`
	UserID string `json:"user_id"`
}

// SetFieldsPayload writes record fields in LeadSquared.
type SetFieldsPayload struct {
	Fields map[string]string `json:"fields"`
}

// PostActivityPayload posts an activity on the record.
type PostActivityPayload struct {
	EventCode int    `json:"event_code"`
	Note      string `json:"note"`
	Tag       string `json:"tag"`
}

// NotePayload is a private note for the ticket's agents: what lsqbridge
// could not mirror and what to do about it. Cause names it (the dedupe key
// is built from it).
type NotePayload struct {
	Cause string `json:"cause"`
	Text  string `json:"text"`
}

// FollowTicketPayload moves the link from ticket From (resolved or closed)
// to Ticket, a new conversation of the same contact in the same inbox.
type FollowTicketPayload struct {
	From   int64 `json:"from"`
	Ticket int64 `json:"ticket"`
}
