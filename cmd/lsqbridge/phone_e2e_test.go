package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestDefaultCountryCodeAppliesToContactLeadLookupAndFlowEvent: a lead
// whose phone a salesperson typed without its country code (the sandbox's
// phone.default_country_code is 91) gets a LimeChat contact at the full
// number — not "+9876543210" — its stage campaign messages that number, and
// the customer writing in from it finds that lead for the opportunity form
// instead of creating a second one.
func TestDefaultCountryCodeAppliesToContactLeadLookupAndFlowEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Priya", "LastName": "Shah", "Phone": "9876543210", "OwnerId": w.Users["asha@acme.test"].ID,
	}))
	w.settle()
	if tk := w.ticketOf(lead.ID); tk.Contact.Phone != "+919876543210" {
		t.Errorf("contact phone %q, want +919876543210", tk.Contact.Phone)
	}

	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	w.settle()
	var phones []string
	for _, ev := range w.LC.FlowEvents() {
		if ev.Event == "lead_qualified" {
			phones = append(phones, ev.Phone)
		}
	}
	if len(phones) != 1 || phones[0] != "919876543210" {
		t.Errorf("lead_qualified events sent to %v, want one to 919876543210", phones)
	}

	// The customer writes in again from the same number.
	tk := w.customerTicket(service.Contact{Phone: "+919876543210"}, map[string]any{"check_in": "2026-12-20"}, "asha@acme.test")
	a := w.submitForm(tk.ID, "phone-1", nil)
	if a.status != http.StatusCreated {
		t.Fatalf("submit = %d %s", a.status, a.body)
	}
	var got service.Submitted
	a.decode(t, &got)
	if got.LeadID != lead.ID || got.LeadCreated || len(w.LSQ.Leads()) != 1 {
		t.Errorf("submission on lead %s (created %v), %d leads; want the existing lead %s found by its national number",
			got.LeadID, got.LeadCreated, len(w.LSQ.Leads()), lead.ID)
	}
	w.settle()
}

// TestFlowEventWithNoPhoneIsNotSent: without a default country code the
// lead's national number cannot be used, and its ticket's contact has no
// number either, so the stage campaign's Flow-builder event is never sent:
// it goes dead with outcome not_sent and says why.
func TestFlowEventWithNoPhoneIsNotSent(t *testing.T) {
	t.Parallel()
	rules := sandbox.DemoRules()
	rules.Phone.DefaultCountryCode = ""
	w := newWorld(t, func(o *worldOptions) { o.Rules = &rules })
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Dev", "EmailAddress": "dev@example.com", "Phone": "9876500000", "OwnerId": w.Users["asha@acme.test"].ID,
	}))
	w.settle()
	if tk := w.ticketOf(lead.ID); tk.Contact.Phone != "" || tk.Contact.Email != "dev@example.com" {
		t.Errorf("contact %+v; want the e-mail and no made-up number", tk.Contact)
	}

	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	w.settle()
	for _, ev := range w.LC.FlowEvents() {
		t.Errorf("Flow-builder event sent: %+v", ev)
	}
	var status, outcome, lastError string
	check(t, w.pool.QueryRow(w.ctx, `SELECT status, outcome, last_error FROM outbox WHERE kind = $1`, service.ActFlowEvent).
		Scan(&status, &outcome, &lastError))
	if status != "dead" || outcome != "not_sent" || !strings.HasPrefix(lastError, "no phone for this record: ") ||
		!strings.Contains(lastError, "phone.default_country_code is not set") {
		t.Errorf("flow event action %s/%s %q; want dead, not_sent, saying there is no phone and why", status, outcome, lastError)
	}
}
