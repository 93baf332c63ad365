package sandbox

import (
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

// Demo credentials of the sandbox's fakes. They guard nothing real, but they
// are still passed only as sealed integration secrets, like real ones.
const (
	LeadSquaredAccessKey = "demo-access-key"
	LeadSquaredSecretKey = "demo-secret-key"
	LimeChatToken        = "demo-limechat-token"
	FlowBuilderKey       = "demo-flow-builder-key"
	FlowBuilderAccount   = "fb-demo"
	// WebhookSecret signs the LimeChat fake's webhooks when Options.Signed.
	WebhookSecret = "demo-webhook-signing-secret"
)

// IntegrationID is the demo integration's id.
const IntegrationID = "demo"

// Person is a demo person.
type Person struct{ First, Last, Email string }

// DemoPeople are on both platforms (matched by e-mail); solo (SoloEmail)
// exists only in LeadSquared (an unmatched agent).
func DemoPeople() []Person {
	return []Person{
		{"Asha", "Rao", "asha@acme.test"},
		{"Ravi", "Kumar", "ravi@acme.test"},
		{"Meera", "Iyer", "meera@acme.test"},
	}
}

// SoloEmail is the demo person who exists only in LeadSquared.
const SoloEmail = "solo@acme.test"

// DemoRules are the sandbox integration's rules: one of each kind.
func DemoRules() service.Rules {
	return service.Rules{
		Sync: service.SyncRules{Leads: true, Opportunities: true, InitialLabels: []string{"leadsquared"},
			TicketFields: map[string]string{"mx_City": "city"}},
		FieldTags: []service.FieldTagRule{
			{Record: service.KindLead, Field: "mx_Interest", Value: "Villa", Tag: "interest-villa"},
			{Record: service.KindLead, Field: "ProspectStage", Value: "Hot", Tag: "hot-lead"},
			{Record: service.KindOpportunity, Field: "mx_Custom_2", Value: "Qualified", Tag: "opp-qualified"},
		},
		TagFields: []service.TagFieldRule{
			{Tag: "wants-callback", Record: service.KindLead, Set: map[string]string{"mx_Callback_Requested": "Yes"}},
			{Tag: "budget-confirmed", Record: service.KindOpportunity, Set: map[string]string{"mx_Custom_7": "50000"}},
		},
		TagNotes: []service.TagNoteRule{
			{Tag: "quote-sent", Record: service.KindLead, ActivityEvent: 201, Note: "Quote sent from LimeChat"},
			{Tag: "quote-sent", Record: service.KindOpportunity, ActivityEvent: 208, Note: "Quote sent from LimeChat"},
		},
		Campaigns: []service.CampaignRule{
			{Record: service.KindLead, Field: "ProspectStage", To: "Qualified", Event: "lead_qualified",
				Data: map[string]string{"first_name": "FirstName", "stage": "ProspectStage"}},
			{Record: service.KindOpportunity, Field: "mx_Custom_2", To: "Reachable", Event: "opportunity_reachable",
				Data: map[string]string{"booking": "mx_Custom_1", "stage": "mx_Custom_2"}},
			{Record: service.KindOpportunity, Field: "Status", From: "Open", To: "Won", Event: "booking_confirmed",
				Data: map[string]string{"booking": "mx_Custom_1"}},
		},
		Form: service.FormRules{
			OpportunityType: 12000,
			Prefill: map[string]string{
				"mx_Custom_1": "contact.name",
				"mx_Custom_3": "contact.custom_attributes.city",
				"mx_Custom_4": "conversation.custom_attributes.check_in",
				"mx_Custom_5": "conversation.custom_attributes.check_out",
				"mx_Custom_8": "conversation.custom_attributes.amenities",
				"mx_Custom_9": "conversation.custom_attributes.arrival",
			},
			IncompleteTag: "opportunity-form-incomplete",
			PageLinkTTL:   service.Duration(24 * time.Hour),
			DateOrder:     service.DateOrderDayFirst,
			Timezone:      service.DefaultFormTimezone,
		},
		Fuse:  service.FuseRules{MaxActionsPerMinute: 200},
		Phone: service.PhoneRules{DefaultCountryCode: "91"},
	}
}

// NewLeadSquared is the LeadSquared fake with the demo people (and a field
// the demo rules set), its webhooks sent through hooks.
func NewLeadSquared(hooks *fakehooks.Sender, millis bool, now func() time.Time) *lsqfake.Fake {
	f := lsqfake.New(lsqfake.Options{AccessKey: LeadSquaredAccessKey, SecretKey: LeadSquaredSecretKey, Hooks: hooks, WebhookMillis: millis, Now: now})
	f.AddLeadField(service.FieldMeta{SchemaName: "mx_Callback_Requested", DisplayName: "Callback Requested", DataType: "Select", Options: []string{"Yes", "No"}})
	for _, p := range DemoPeople() {
		f.AddUser(p.Email, p.First, p.Last)
	}
	f.AddUser(SoloEmail, "Solo", "Only")
	return f
}

// NewLimeChat is the LimeChat fake (and Flow-builder) with the demo agents,
// its webhooks sent through hooks.
func NewLimeChat(hooks *fakehooks.Sender, now func() time.Time) *limechatfake.Fake {
	f := limechatfake.New(limechatfake.Options{AccountID: 1, InboxID: 1, APIToken: LimeChatToken,
		FlowBuilderAccountID: FlowBuilderAccount, FlowBuilderKey: FlowBuilderKey, Hooks: hooks, Now: now})
	for _, p := range DemoPeople() {
		f.AddAgent(p.First+" "+p.Last, p.Email)
	}
	return f
}
