package service

import (
	"strings"
	"testing"
)

// TestDecideDefaultCountryCodeCompletesNationalNumbers: a lead whose phone
// was typed without its country code gets a LimeChat contact and a
// Flow-builder event at the full number; without a default country code
// neither gets a made-up one ("+9876543210"), and the event says why.
func TestDecideDefaultCountryCodeCompletesNationalNumbers(t *testing.T) {
	t.Parallel()
	created := Event{Source: SourceLeadSquared, Type: EventLeadCreated, OccurredAt: minute(1),
		Record: &Record{Kind: KindLead, ID: tLeadID, LeadID: tLeadID, OwnerID: tAshaUser,
			Fields: map[string]string{"FirstName": "Priya", "Phone": "9876543210"}}}
	qualified := lsqChange(KindLead, minute(11), map[string]string{"ProspectStage": "Qualified"})
	national := leadLink()
	national.Fields["Phone"] = "09876543210"

	withCC := testRules()
	withCC.Phone.DefaultCountryCode = "91"
	d := decide(Input{Event: created, Rules: withCC, Agents: testPeople})
	if p := d.Actions[0].Payload.(CreateTicketPayload); p.Phone != "+919876543210" {
		t.Errorf("contact phone %q, want +919876543210", p.Phone)
	}
	d = decide(Input{Link: national, Event: qualified, Rules: withCC, Agents: testPeople})
	if p := d.Actions[0].Payload.(FlowEventPayload); p.Phone != "919876543210" || p.PhoneProblem != "" {
		t.Errorf("flow event phone %q (%q), want 919876543210", p.Phone, p.PhoneProblem)
	}

	without := testRules()
	d = decide(Input{Event: created, Rules: without, Agents: testPeople})
	if p := d.Actions[0].Payload.(CreateTicketPayload); p.Phone != "" {
		t.Errorf("contact phone %q, want none rather than a number without its country code", p.Phone)
	}
	d = decide(Input{Link: national, Event: qualified, Rules: without, Agents: testPeople})
	if p := d.Actions[0].Payload.(FlowEventPayload); p.Phone != "" || !strings.Contains(p.PhoneProblem, "default_country_code") {
		t.Errorf("flow event phone %q (%q), want none, saying phone.default_country_code is not set", p.Phone, p.PhoneProblem)
	}
}

// TestDecideTagRulesReachOnlyTheirRecordKind: a tag on an opportunity's
// ticket runs only the opportunity rules of that tag, and on a lead's only
// the lead ones: a lead field or activity is never sent to an opportunity.
func TestDecideTagRulesReachOnlyTheirRecordKind(t *testing.T) {
	t.Parallel()
	rules := testRules()
	rules.TagFields = []TagFieldRule{
		{Tag: "callback", Record: KindLead, Set: map[string]string{"mx_Callback_Requested": "Yes"}},
		{Tag: "callback", Record: KindOpportunity, Set: map[string]string{"mx_Custom_7": "call"}},
	}
	rules.TagNotes = []TagNoteRule{
		{Tag: "callback", Record: KindLead, ActivityEvent: 201, Note: "lead note"},
		{Tag: "callback", Record: KindOpportunity, ActivityEvent: 208, Note: "opportunity note"},
	}
	tag := lcLabels(minute(11), nil, []string{"callback"})
	for _, tc := range []struct {
		link       *Link
		field      string
		code       int
		otherField string
	}{
		{leadLink(), "mx_Callback_Requested", 201, "mx_Custom_7"},
		{oppLink(), "mx_Custom_7", 208, "mx_Callback_Requested"},
	} {
		d := decide(Input{Link: tc.link, Event: tag, Rules: rules, Agents: testPeople})
		var fields map[string]string
		var codes []int
		for _, a := range d.Actions {
			switch p := a.Payload.(type) {
			case SetFieldsPayload:
				fields = p.Fields
			case PostActivityPayload:
				codes = append(codes, p.EventCode)
			}
		}
		if _, ok := fields[tc.field]; !ok || len(fields) != 1 || len(codes) != 1 || codes[0] != tc.code {
			t.Errorf("%s: fields %v activities %v; want only %s and activity %d", tc.link.Kind, fields, codes, tc.field, tc.code)
		}
	}
}
