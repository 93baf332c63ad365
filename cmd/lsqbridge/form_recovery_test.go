package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestInterruptedFormCaptureLinksTheSubmittingTicket loses LeadSquared's
// answer to the form's Capture after LeadSquared created the opportunity.
// The agent is told the outcome is unknown; when the opportunity-created
// webhook comes, lsqbridge links the opportunity to the submitting ticket
// (no second ticket, no second opportunity), and the same Idempotency-Key
// then answers with it.
func TestInterruptedFormCaptureLinksTheSubmittingTicket(t *testing.T) {
	t.Parallel()
	var loseAnswer atomic.Bool
	loseAnswer.Store(true)
	w := newWorld(t, func(o *worldOptions) {
		o.WrapLeadSquared = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if loseAnswer.Load() && strings.HasSuffix(r.URL.Path, "OpportunityManagement.svc/Capture") {
					h.ServeHTTP(httptest.NewRecorder(), r) // LeadSquared acts…
					http.Error(rw, "<html>Bad Gateway</html>", http.StatusBadGateway)
					return
				}
				h.ServeHTTP(rw, r)
			})
		}
	})
	// Hold the webhooks so the capture's answer is lost before its webhook comes.
	w.LSQHooks.SetManual(true)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Nila", "EmailAddress": "nila@example.com", "Phone": "+91-9000011111"}))
	w.LSQHooks.TakeQueued() // the lead was never linked: not lsqbridge's
	w.LSQHooks.SetManual(false)
	tk := w.customerTicket(service.Contact{Phone: "+919000011111", Name: "Nila"},
		map[string]any{"check_in": "2026-12-20"}, "asha@acme.test")

	first := w.submitForm(tk.ID, "interrupted-1", map[string]string{"mx_Custom_2": "New"})
	if first.status < 500 {
		t.Fatalf("submit with a lost answer = %d %s; want a failure saying the outcome is unknown", first.status, first.body)
	}
	loseAnswer.Store(false)
	w.settle()

	opps := oppsOfLead(w.LSQ, lead.ID)
	if len(opps) != 1 {
		t.Fatalf("lead has %d opportunities, want 1", len(opps))
	}
	if n := len(w.LC.Conversations()); n != 1 {
		t.Errorf("%d conversations; the opportunity must take the submitting ticket, not open another", n)
	}
	var ticket int64
	if err := w.pool.QueryRow(w.ctx, "SELECT ticket_id FROM links WHERE record_id = $1", opps[0].ID).Scan(&ticket); err != nil || ticket != tk.ID {
		t.Errorf("opportunity's link ticket = %d (%v), want %d", ticket, err, tk.ID)
	}
	again := w.submitForm(tk.ID, "interrupted-1", map[string]string{"mx_Custom_2": "New"})
	var got service.Submitted
	again.decode(t, &got)
	if again.status != http.StatusCreated || got.OpportunityID != opps[0].ID || got.TicketID == nil || *got.TicketID != tk.ID {
		t.Errorf("repeat with the same key = %d %s; want the recovered opportunity on ticket %d", again.status, again.body, tk.ID)
	}
	if n := len(oppsOfLead(w.LSQ, lead.ID)); n != 1 {
		t.Errorf("the repeat created another opportunity: %d", n)
	}
}

// TestConcurrentFormSubmitsDoNotStarveTheDatabasePool: with a pool of two
// connections, two agents submitting at once must both get their answer
// (a capture that needed a second connection while holding one would
// deadlock the pool).
func TestConcurrentFormSubmitsDoNotStarveTheDatabasePool(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *worldOptions) { o.poolMaxConns = 2 })
	a := w.customerTicket(service.Contact{Phone: "+919000033333", Name: "Ana"}, map[string]any{"check_in": "2026-12-20"}, "asha@acme.test")
	b := w.customerTicket(service.Contact{Phone: "+919000044444", Name: "Ben"}, map[string]any{"check_in": "2026-12-21"}, "ravi@acme.test")
	done := make(chan answer, 2)
	for i, tk := range []service.Ticket{a, b} {
		go func() {
			done <- w.submitForm(tk.ID, fmt.Sprintf("pool-%d", i), map[string]string{"mx_Custom_2": "New"})
		}()
	}
	for range 2 {
		select {
		case ans := <-done:
			if ans.status != http.StatusCreated {
				t.Errorf("submit = %d %s", ans.status, ans.body)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a form submit hung: the database pool is starved")
		}
	}
}

// TestSalespersonsOpportunityDoesNotTakeAnInterruptedSubmitsTicket: a
// submit fails without LeadSquared creating anything (the answer says 502,
// so lsqbridge cannot know), then a salesperson creates an opportunity on
// the same lead. That opportunity is not the submission's: it gets its own
// ticket, and the submission's key is not completed with it.
func TestSalespersonsOpportunityDoesNotTakeAnInterruptedSubmitsTicket(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *worldOptions) {
		o.WrapLeadSquared = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "OpportunityManagement.svc/Capture") {
					http.Error(rw, "<html>Bad Gateway</html>", http.StatusBadGateway) // nothing created
					return
				}
				h.ServeHTTP(rw, r)
			})
		}
	})
	w.LSQHooks.SetManual(true)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Sam", "EmailAddress": "sam@example.com", "Phone": "+91-9000055555"}))
	w.LSQHooks.TakeQueued()
	w.LSQHooks.SetManual(false)
	tk := w.customerTicket(service.Contact{Phone: "+919000055555", Name: "Sam"}, map[string]any{"check_in": "2026-12-20"}, "asha@acme.test")
	if ans := w.submitForm(tk.ID, "k-sam", map[string]string{"mx_Custom_2": "New"}); ans.status < 500 {
		t.Fatalf("submit = %d %s, want a failure", ans.status, ans.body)
	}
	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{
		"mx_Custom_1": "Walk-in", "Status": "Open", "mx_Custom_4": "2026-12-22", "Owner": w.Users["ravi@acme.test"].ID}))
	w.settle()
	var ticket int64
	if err := w.pool.QueryRow(w.ctx, "SELECT coalesce(ticket_id, 0) FROM links WHERE record_id = $1", opp.ID).Scan(&ticket); err != nil {
		t.Fatal(err)
	}
	if ticket == tk.ID {
		t.Errorf("the salesperson's opportunity took the agent's ticket %d", tk.ID)
	}
	if n := len(w.conversationsFor(opp.ID)); n != 1 {
		t.Errorf("the salesperson's opportunity has %d tickets of its own, want 1", n)
	}
	if again := w.submitForm(tk.ID, "k-sam", map[string]string{"mx_Custom_2": "New"}); again.status == http.StatusCreated {
		t.Errorf("the failed key now answers 201 %s: it was completed with someone else's opportunity", again.body)
	}
}
