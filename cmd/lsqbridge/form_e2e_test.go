package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// answer is one HTTP exchange with lsqbridge.
type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// call sends a request to lsqbridge; body is JSON-encoded unless nil.
func (w *world) call(method, path string, header map[string]string, body any) answer {
	w.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(w.ctx, method, w.URL+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, body: b, header: resp.Header}
}

// withAutomation points the LimeChat fake's automation rule ("on
// conversation created, send webhook") at lsqbridge.
func withAutomation(o *worldOptions) { o.Automation = true }

func formPath(ticket int64) string {
	return fmt.Sprintf("/v1/integrations/demo/tickets/%d/opportunity-form", ticket)
}

// formAuth asks for a signed link to a ticket's form with the Dashboard App
// key, as the Dashboard App does, and returns the headers the page's script
// sends with it.
func (w *world) formAuth(ticket int64) map[string]string {
	w.t.Helper()
	a := w.call(http.MethodGet, formPath(ticket)+"/link", map[string]string{"X-Lsqbridge-App-Key": w.Creds.App}, nil)
	var link struct{ Path string }
	a.decode(w.t, &link)
	u, err := url.Parse(link.Path)
	if a.status != http.StatusOK || err != nil || u.Query().Get("sig") == "" {
		w.t.Fatalf("form link of ticket %d: %d %s", ticket, a.status, a.body)
	}
	return map[string]string{"X-Lsqbridge-Link-Expires": u.Query().Get("exp"), "X-Lsqbridge-Link-Signature": u.Query().Get("sig")}
}

// submitForm posts field values to a ticket's form with a signed link.
func (w *world) submitForm(ticket int64, key string, fields map[string]string) answer {
	w.t.Helper()
	h := w.formAuth(ticket)
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return w.call(http.MethodPost, formPath(ticket), h, map[string]any{"fields": fields})
}

// limeChat is an API client of the LimeChat fake, for what its person API
// does not offer (conversation custom attributes).
func (w *world) limeChat() *limechat.Client {
	return limechat.New(limechat.Config{BaseURL: w.LCURL, AccountID: 1, APIToken: sandbox.LimeChatToken})
}

// customerTicket is a customer writing in (a conversation lsqbridge did
// not open), then given conversation attributes and an agent.
func (w *world) customerTicket(ct service.Contact, attrs map[string]any, agentEmail string) service.Ticket {
	w.t.Helper()
	tk, err := w.LC.CreateConversationByPerson(ct)
	if err != nil {
		w.t.Fatal(err)
	}
	w.settle() // an automation rule, when on, runs now: the form is incomplete
	if attrs != nil {
		check(w.t, w.limeChat().SetCustomAttributes(w.ctx, tk.ID, attrs))
	}
	if agentEmail != "" {
		check(w.t, w.LC.AssignAgent(tk.ID, w.agentID(agentEmail)))
	}
	w.settle()
	return tk
}

// conversationsFor returns the conversations opened for a record.
func (w *world) conversationsFor(recordID string) []service.Ticket {
	var out []service.Ticket
	for _, c := range w.LC.Conversations() {
		if c.CustomAttributes["lsq_record_id"] == recordID {
			out = append(out, c)
		}
	}
	return out
}

func oppsOfLead(f *lsqfake.Fake, leadID string) []service.Record {
	var out []service.Record
	for _, o := range f.Opportunities() {
		if o.LeadID == leadID {
			out = append(out, o)
		}
	}
	return out
}

// TestOpportunityFormListsTypeFieldsWithPrefill checks the form of a ticket
// against the fake's opportunity type: every visible field with its type,
// required flag and options (Stage's for the pre-filled Status, and for
// each Status), pre-filled from the contact and conversation, each value
// as LeadSquared takes it: the day-first 20/12/2026 as 2026-12-20, an ISO
// timestamp in UTC, a list attribute as a multi-select.
func TestOpportunityFormListsTypeFieldsWithPrefill(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tk := w.customerTicket(service.Contact{Name: "Priya Shah", Email: "priya@example.com", Phone: "+919876543210",
		CustomAttributes: map[string]any{"city": "Pune"}},
		map[string]any{"check_in": "20/12/2026", "check_out": "2026-12-24T00:00:00.000+05:30",
			"amenities": []any{"Spa", "Pool"}, "arrival": "2026-12-20T15:00:00+05:30"}, "asha@acme.test")

	a := w.call(http.MethodGet, formPath(tk.ID), w.formAuth(tk.ID), nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET form: %d %s", a.status, a.body)
	}
	var form service.Form
	a.decode(t, &form)
	want := []service.FormField{
		{Schema: "mx_Custom_1", Label: "Opportunity Name", Type: "Text", Required: true, Options: []string{}, MaxLength: 200, Value: "Priya Shah", Source: "contact.name"},
		{Schema: "Status", Label: "Status", Type: "Select", Required: true, Options: []string{"Open", "Won", "Lost"}, MaxLength: 200, Value: "Open"},
		{Schema: "mx_Custom_2", Label: "Stage", Type: "Select", Options: []string{"New", "Reachable", "Qualified"}, MaxLength: 200,
			ParentField: "Status", OptionsByParent: map[string][]string{
				"Open": {"New", "Reachable", "Qualified"}, "Won": {"Booked"}, "Lost": {"Not Reachable", "Cancelled"}}},
		{Schema: "mx_Custom_3", Label: "City", Type: "Text", Options: []string{}, MaxLength: 200, Value: "Pune", Source: "contact.custom_attributes.city"},
		{Schema: "mx_Custom_4", Label: "Check-in", Type: "Date", Required: true, Options: []string{}, MaxLength: 200, Value: "2026-12-20", Source: "conversation.custom_attributes.check_in"},
		{Schema: "mx_Custom_5", Label: "Check-out", Type: "Date", Options: []string{}, MaxLength: 200, Value: "2026-12-24", Source: "conversation.custom_attributes.check_out"},
		{Schema: "mx_Custom_6", Label: "Guests", Type: "Number", Options: []string{}, MaxLength: 200},
		{Schema: "mx_Custom_7", Label: "Budget", Type: "Number", Options: []string{}, MaxLength: 200},
		{Schema: "mx_Custom_8", Label: "Amenities", Type: "MultiSelect", Options: []string{"Pool", "Spa", "Breakfast", "Airport Transfer"},
			MaxLength: 200, Value: "Spa;Pool", Source: "conversation.custom_attributes.amenities"},
		{Schema: "mx_Custom_9", Label: "Arrival", Type: "DateTime", Options: []string{}, MaxLength: 200,
			Value: "2026-12-20 09:30:00", Source: "conversation.custom_attributes.arrival"},
	}
	if !reflect.DeepEqual(form.Fields, want) {
		gotJSON, _ := json.MarshalIndent(form.Fields, "", " ")
		t.Errorf("fields (Owner must be hidden: it follows the agent):\n%s\nwant %+v", gotJSON, want)
	}
	if form.AgentEmail != "asha@acme.test" || !form.OwnerMatched || form.Linked != nil || form.OpportunityType != 12000 {
		t.Errorf("form agent %q matched %v linked %+v type %d; want Asha, matched, unlinked, 12000",
			form.AgentEmail, form.OwnerMatched, form.Linked, form.OpportunityType)
	}
	if form.Contact.Phone != "+919876543210" || form.Contact.Email != "priya@example.com" {
		t.Errorf("contact = %+v", form.Contact)
	}
}

// TestOpportunityFormRejectsInvalidValuesOverHTTP checks the 422 answer:
// one message per field naming it and the reason; nothing is created and
// the idempotency key stays free.
func TestOpportunityFormRejectsInvalidValuesOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// 12/20/2026 is month first: never guessed in a day-first integration.
	tk := w.customerTicket(service.Contact{Name: "Dev Rao", Phone: "+919800000001"}, map[string]any{"check_in": "12/20/2026"}, "")
	h := w.formAuth(tk.ID)
	h["Idempotency-Key"] = "bad-1"
	a := w.call(http.MethodPost, formPath(tk.ID), h,
		map[string]any{"fields": map[string]any{"mx_Custom_5": "2026-02-30", "mx_Custom_6": "many", "Status": "Maybe", "Owner": "x",
			"mx_Custom_8": []string{"Pool", "Gym"}, "mx_Custom_9": "21/12/2026 18:45", "mx_Custom_3": []string{"Pune"}}})
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("submit = %d %s, want 422", a.status, a.body)
	}
	var body struct{ Errors map[string]string }
	a.decode(t, &body)
	want := map[string][]string{
		"mx_Custom_4": {"Check-in", "YYYY-MM-DD", "12/20/2026"},
		"mx_Custom_5": {"Check-out", "not a real calendar date", "2026-02-30"},
		"mx_Custom_6": {"Guests", "must be a number"},
		"Status":      {"Status", "must be one of Open, Won, Lost"},
		"Owner":       {"Owner", "cannot be submitted"},
		"mx_Custom_8": {"Amenities", "chosen from Pool, Spa, Breakfast, Airport Transfer", `"Gym"`},
		"mx_Custom_9": {"Arrival", "YYYY-MM-DD HH:MM", "21/12/2026 18:45"},
		"mx_Custom_3": {"City", "takes one value, not a list"},
	}
	if len(body.Errors) != len(want) {
		t.Errorf("errors = %v, want exactly %v", body.Errors, want)
	}
	for field, parts := range want {
		for _, p := range parts {
			if !strings.Contains(body.Errors[field], p) {
				t.Errorf("error for %s = %q, want it to contain %q", field, body.Errors[field], p)
			}
		}
	}
	if n := len(w.LSQ.Opportunities()); n != 0 {
		t.Errorf("%d opportunities after an invalid submit", n)
	}
	if n := w.count("SELECT count(*) FROM form_submissions"); n != 0 {
		t.Errorf("an invalid submit used its idempotency key (%d rows)", n)
	}
}

// TestOpportunityFormSubmitCapturesOnceAndLinks walks the submit: one
// opportunity on the contact's lead, owned by the ticket's agent and linked
// to the ticket; the same key replays the answer; the capture's echo opens
// no ticket; a submit from an already-linked ticket opens a new ticket.
func TestOpportunityFormSubmitCapturesOnceAndLinks(t *testing.T) {
	t.Parallel()
	// With the automation rule on: the tickets lsqbridge opens must not
	// make it create opportunities of its own.
	w := newWorld(t, withAutomation)
	asha, ravi := w.Users["asha@acme.test"], w.Users["ravi@acme.test"]
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Priya", "LastName": "Shah", "EmailAddress": "priya@example.com", "Phone": "+91-9876543210", "OwnerId": ravi.ID,
	}))
	w.settle()
	leadTicket := w.ticketOf(lead.ID)
	// The customer writes in again: a conversation lsqbridge did not open.
	tk := w.customerTicket(service.Contact{Phone: "+919876543210"},
		map[string]any{"check_in": "2026-12-20", "check_out": "2026-12-24"}, "asha@acme.test")

	first := w.submitForm(tk.ID, "submit-1", map[string]string{"mx_Custom_2": "Qualified", "mx_Custom_6": "2"})
	if first.status != http.StatusCreated {
		t.Fatalf("submit = %d %s", first.status, first.body)
	}
	var got service.Submitted
	first.decode(t, &got)
	opps := oppsOfLead(w.LSQ, lead.ID)
	if len(opps) != 1 {
		t.Fatalf("lead has %d opportunities, want 1", len(opps))
	}
	opp := opps[0]
	if got.OpportunityID != opp.ID || got.LeadID != lead.ID || got.TicketID == nil || *got.TicketID != tk.ID ||
		got.State != service.LinkActive || got.OwnerEmail != "asha@acme.test" || got.LeadCreated {
		t.Errorf("answer %s; want opportunity %s on lead %s linked to ticket %d, owner Asha", first.body, opp.ID, lead.ID, tk.ID)
	}
	if opp.OwnerID != asha.ID || opp.Field("mx_Custom_4") != "2026-12-20" || opp.Field("mx_Custom_2") != "Qualified" || opp.Field("mx_Custom_1") != "Priya Shah" {
		t.Errorf("opportunity %+v: want Owner Asha, the pre-filled name and check-in, and the submitted stage", opp.Fields)
	}
	var linkTicket int64
	var origin, state string
	if err := w.pool.QueryRow(w.ctx, "SELECT ticket_id, origin, state FROM links WHERE record_id = $1 AND record_kind = 'opportunity'",
		opp.ID).Scan(&linkTicket, &origin, &state); err != nil {
		t.Fatal(err)
	}
	if linkTicket != tk.ID || origin != "form" || state != "active" {
		t.Errorf("link ticket %d origin %s state %s; want ticket %d, form, active", linkTicket, origin, state, tk.ID)
	}

	again := w.submitForm(tk.ID, "submit-1", map[string]string{"mx_Custom_2": "Booked"})
	if again.status != http.StatusCreated || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat = %d %s (replayed %q); want the first answer %s", again.status, again.body, again.header.Get("Idempotent-Replayed"), first.body)
	}
	if n := len(oppsOfLead(w.LSQ, lead.ID)); n != 1 {
		t.Errorf("the repeat created something: %d opportunities", n)
	}

	conversations := len(w.LC.Conversations())
	w.settle()
	if n := len(w.LC.Conversations()); n != conversations {
		t.Errorf("the capture's opportunity-created webhook opened %d ticket(s)", n-conversations)
	}
	var echo string
	if err := w.pool.QueryRow(w.ctx, `SELECT e.outcome FROM inbound_events e JOIN links l ON l.id = e.link_id
		WHERE e.source = 'leadsquared' AND e.event_type = 'opportunity_created' AND l.record_id = $1`, opp.ID).Scan(&echo); err != nil {
		t.Fatalf("the capture's webhook was not recorded against the link: %v", err)
	}
	if echo != service.OutcomeEcho {
		t.Errorf("opportunity-created outcome = %s, want echo", echo)
	}
	if tkNow, _ := w.LC.Conversation(tk.ID); !tkNow.HasLabel("opp-qualified") {
		t.Errorf("ticket labels %v: want the field tag of Stage=Qualified", tkNow.Labels)
	}

	// Submits from tickets already linked (to this opportunity, to the
	// lead) each ensure a new ticket for the new opportunity.
	for _, c := range []struct {
		name   string
		ticket int64
		agent  string
	}{{"opportunity ticket", tk.ID, "asha@acme.test"}, {"lead ticket", leadTicket.ID, "ravi@acme.test"}} {
		a := w.submitForm(c.ticket, "from-"+strings.ReplaceAll(c.name, " ", "-"), map[string]string{"mx_Custom_4": "2027-01-10", "mx_Custom_1": "Second trip"})
		var s service.Submitted
		a.decode(t, &s)
		if a.status != http.StatusCreated || s.State != service.LinkPendingTicket || s.TicketID != nil {
			t.Fatalf("%s: submit = %d %s; want 201 pending_ticket without a ticket", c.name, a.status, a.body)
		}
		w.settle()
		opened := w.conversationsFor(s.OpportunityID)
		if len(opened) != 1 {
			t.Fatalf("%s: %d tickets for opportunity %s, want 1", c.name, len(opened), s.OpportunityID)
		}
		if opened[0].AssigneeID != w.agentID(c.agent) || opened[0].Contact.Phone != "+919876543210" || opened[0].ID == c.ticket {
			t.Errorf("%s: new ticket %+v; want a new conversation with the customer, assigned to %s", c.name, opened[0], c.agent)
		}
		var linked int64
		if err := w.pool.QueryRow(w.ctx, "SELECT ticket_id FROM links WHERE id = $1 AND state = 'active'", s.LinkID).Scan(&linked); err != nil || linked != opened[0].ID {
			t.Errorf("%s: link %d ticket %d (%v); want %d", c.name, s.LinkID, linked, err, opened[0].ID)
		}
	}
	if n := len(oppsOfLead(w.LSQ, lead.ID)); n != 3 {
		t.Errorf("lead has %d opportunities, want 3", n)
	}
	assertQuiet(t, w)
}

// TestOpportunityFormConcurrentDuplicatesCaptureOnce sends the same key
// while the first submission waits on LeadSquared: the second is refused
// with 409, then the key replays the one answer.
func TestOpportunityFormConcurrentDuplicatesCaptureOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tk := w.customerTicket(service.Contact{Name: "Ira Sen", Email: "ira@example.com"}, map[string]any{"check_in": "2026-10-01"}, "meera@acme.test")
	w.LSQ.SetFaults(lsqfake.Faults{Latency: 300 * time.Millisecond})
	var first answer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = w.submitForm(tk.ID, "dup", nil)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for w.count("SELECT count(*) FROM form_submissions WHERE status = 'in_progress'") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first submission never started")
		}
	}
	second := w.submitForm(tk.ID, "dup", nil)
	wg.Wait()
	w.LSQ.SetFaults(lsqfake.Faults{})
	if first.status != http.StatusCreated {
		t.Fatalf("first = %d %s", first.status, first.body)
	}
	if second.status != http.StatusConflict || !strings.Contains(string(second.body), "in progress") {
		t.Errorf("concurrent duplicate = %d %s, want 409 in progress", second.status, second.body)
	}
	if third := w.submitForm(tk.ID, "dup", nil); third.status != http.StatusCreated || !bytes.Equal(third.body, first.body) {
		t.Errorf("after it finished, the key answers %d %s; want the first answer", third.status, third.body)
	}
	if n := len(w.LSQ.Opportunities()); n != 1 {
		t.Errorf("%d opportunities, want 1", n)
	}
	w.settle()
}

// TestOpportunityFormAutomation: a conversation whose pre-filled form is
// complete gets its opportunity from the automation rule (once, however
// often the rule calls); an incomplete one is tagged and nothing is created.
func TestOpportunityFormAutomation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withAutomation)
	lc := w.limeChat()
	ct, err := lc.CreateContact(w.ctx, 1, service.Contact{Name: "Kabir Das", Email: "kabir@example.com", Phone: "+919811112222",
		CustomAttributes: map[string]any{"city": "Goa"}})
	check(t, err)
	// Created through the API with its dates, so the automation rule on
	// conversation_created sees a complete form.
	// Dates as people and other systems write them: day first, and an ISO
	// instant; they were refused before (the form ended incomplete).
	complete, err := lc.CreateConversation(w.ctx, service.NewConversation{InboxID: 1, ContactID: ct.ID,
		CustomAttributes: map[string]any{"check_in": "02/11/2026", "check_out": "2026-11-05T00:00:00+05:30",
			"arrival": "2026-11-02T14:00:00.000Z", "amenities": "Pool; Breakfast"}})
	check(t, err)
	incomplete, err := w.LC.CreateConversationByPerson(service.Contact{Name: "Nia Roy", Phone: "+919833334444"})
	check(t, err)
	w.settle()

	opps := w.LSQ.Opportunities()
	if len(opps) != 1 {
		t.Fatalf("%d opportunities, want 1 (for the complete form only)", len(opps))
	}
	opp := opps[0]
	lead, _ := w.LSQ.Lead(opp.LeadID)
	if lead.Field("EmailAddress") != "kabir@example.com" || opp.Field("mx_Custom_1") != "Kabir Das" ||
		opp.Field("mx_Custom_3") != "Goa" || opp.Field("mx_Custom_4") != "2026-11-02" || opp.Field("Status") != "Open" ||
		opp.Field("mx_Custom_5") != "2026-11-05" || opp.Field("mx_Custom_9") != "2026-11-02 14:00:00" || opp.Field("mx_Custom_8") != "Pool;Breakfast" {
		t.Errorf("opportunity %+v on lead %+v; want Kabir's pre-filled form on a new lead", opp.Fields, lead.Fields)
	}
	var ticket int64
	var origin string
	check(t, w.pool.QueryRow(w.ctx, "SELECT ticket_id, origin FROM links WHERE record_id = $1", opp.ID).Scan(&ticket, &origin))
	if ticket != complete.ID || origin != "automation" {
		t.Errorf("link ticket %d origin %s; want %d automation", ticket, origin, complete.ID)
	}
	if n := len(w.conversationsFor(opp.ID)) + len(w.conversationsFor(lead.ID)); n != 0 {
		t.Errorf("%d extra tickets opened for the new lead or opportunity; the customer's conversation is their ticket", n)
	}
	// The lead the automation created is the integration's: it shares the
	// customer's ticket with its opportunity (no ticket of its own).
	var leadState string
	var leadTicket int64
	check(t, w.pool.QueryRow(w.ctx, "SELECT state, ticket_id FROM links WHERE record_kind = 'lead' AND record_id = $1", lead.ID).Scan(&leadState, &leadTicket))
	if leadState != service.LinkActive || leadTicket != complete.ID {
		t.Errorf("the lead the automation created has a %s link on ticket %d; want it active on the customer's ticket %d", leadState, leadTicket, complete.ID)
	}
	if tk, _ := w.LC.Conversation(complete.ID); tk.HasLabel("opportunity-form-incomplete") {
		t.Errorf("complete form tagged incomplete")
	}

	tk, _ := w.LC.Conversation(incomplete.ID)
	if !tk.HasLabel("opportunity-form-incomplete") {
		t.Errorf("incomplete ticket labels %v, want the incomplete tag", tk.Labels)
	}
	var detail string
	check(t, w.pool.QueryRow(w.ctx, `SELECT detail FROM inbound_events WHERE event_type = 'automation.conversation_created'
		AND outcome = 'ignored' AND payload->>'id' = $1::text`, fmt.Sprint(incomplete.ID)).Scan(&detail))
	if !strings.Contains(detail, "mx_Custom_4") || !strings.Contains(detail, "Check-in is required") {
		t.Errorf("recorded reason %q; want it to name the missing Check-in", detail)
	}

	// The rule calls again (a redelivery, and the same event re-sent with
	// a newer body): nothing is created twice.
	payload := map[string]any{"event": "automation_event.conversation_created", "id": complete.ID, "inbox_id": 1,
		"status": "open", "custom_attributes": map[string]any{"check_in": "2026-11-02"}, "meta": map[string]any{"sender": map[string]any{"id": ct.ID}}}
	for i := range 2 {
		payload["unread_count"] = i
		a := w.call(http.MethodPost, "/v1/webhooks/limechat/demo/automation", map[string]string{"X-Lsqbridge-Token": w.Creds.Automation}, payload)
		var res service.AutomationResult
		a.decode(t, &res)
		if a.status != http.StatusOK || res.Outcome != service.AutomationDuplicate || res.Submission == nil || res.Submission.OpportunityID != opp.ID {
			t.Errorf("repeat %d = %d %s; want duplicate naming opportunity %s", i, a.status, a.body, opp.ID)
		}
	}
	w.settle()
	if n := len(w.LSQ.Opportunities()); n != 1 {
		t.Errorf("%d opportunities after repeats, want 1", n)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status IN ('pending','delivering','dead')"); n != 0 {
		t.Errorf("%d actions undelivered", n)
	}
}

// TestOpportunityFormMultiSelectDateTimeAndDependentStageOverHTTP submits
// the three field types the JSON API took wrongly before: a multi-select
// (a list), a date-time with the agent's offset, and a Stage that must
// belong to the chosen Status. Refusals come per field; the accepted
// values reach LeadSquared in its wire format.
func TestOpportunityFormMultiSelectDateTimeAndDependentStageOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tk := w.customerTicket(service.Contact{Name: "Meher Sethi", Email: "meher@example.com", Phone: "+919812340000"},
		map[string]any{"check_in": "2026-12-20"}, "asha@acme.test")
	post := func(key string, fields map[string]any) answer {
		h := w.formAuth(tk.ID)
		h["Idempotency-Key"] = key
		return w.call(http.MethodPost, formPath(tk.ID), h, map[string]any{"fields": fields})
	}

	bad := post("types-bad", map[string]any{"Status": "Won", "mx_Custom_2": "Qualified", "mx_Custom_8": "Pool;Sauna",
		"mx_Custom_9": "2026-12-21T18:45"})
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("submit = %d %s, want 422", bad.status, bad.body)
	}
	var body struct{ Errors map[string]string }
	bad.decode(t, &body)
	want := map[string]string{
		"mx_Custom_2": `Stage must be one of Booked for Status Won (got "Qualified")`,
		"mx_Custom_8": `Amenities must be chosen from Pool, Spa, Breakfast, Airport Transfer (got "Sauna")`,
		"mx_Custom_9": "Arrival must be a date and time written YYYY-MM-DD HH:MM in UTC, or with its offset",
	}
	if len(body.Errors) != len(want) {
		t.Errorf("errors = %v, want exactly %v", body.Errors, want)
	}
	for f, msg := range want {
		if !strings.Contains(body.Errors[f], msg) {
			t.Errorf("error for %s = %q, want %q", f, body.Errors[f], msg)
		}
	}
	if n := len(w.LSQ.Opportunities()); n != 0 {
		t.Fatalf("%d opportunities after a refused submit", n)
	}

	ok := post("types-good", map[string]any{"Status": "Won", "mx_Custom_2": "Booked", "mx_Custom_8": []string{"Pool", "Airport Transfer"},
		"mx_Custom_9": "2026-12-21T18:45:00+05:30"})
	if ok.status != http.StatusCreated {
		t.Fatalf("submit = %d %s, want 201", ok.status, ok.body)
	}
	opps := w.LSQ.Opportunities()
	if len(opps) != 1 {
		t.Fatalf("%d opportunities, want 1", len(opps))
	}
	got := map[string]string{}
	for _, f := range []string{"Status", "mx_Custom_2", "mx_Custom_8", "mx_Custom_9"} {
		got[f] = opps[0].Field(f)
	}
	wantFields := map[string]string{"Status": "Won", "mx_Custom_2": "Booked", "mx_Custom_8": "Pool;Airport Transfer",
		"mx_Custom_9": "2026-12-21 13:15:00"}
	if !reflect.DeepEqual(got, wantFields) {
		t.Errorf("LeadSquared has %v, want %v (a multi-select joined with ';', the date-time in UTC)", got, wantFields)
	}
	w.settle()
}
