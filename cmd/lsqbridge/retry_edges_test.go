package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// failFirst answers the first request matching method and path suffix with
// status (and a Retry-After long enough that the client hands it to the
// relay instead of retrying in the call), without passing it on: nothing
// happens on the platform.
func failFirst(method, suffix string, status int) func(http.Handler) http.Handler {
	var done atomic.Bool
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == method && strings.HasSuffix(r.URL.Path, suffix) && done.CompareAndSwap(false, true) {
				rw.Header().Set("Retry-After", "5")
				http.Error(rw, `{"error":"try later"}`, status)
				return
			}
			h.ServeHTTP(rw, r)
		})
	}
}

// TestTicketLabelsArriveWhenTheFirstLabelWriteFails: the conversation is
// created, the label write fails; the retry must label the ticket it
// recorded, not just report it exists.
func TestTicketLabelsArriveWhenTheFirstLabelWriteFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *worldOptions) {
		o.WrapLimeChat = failFirst(http.MethodPost, "/labels", http.StatusTooManyRequests)
	})
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Lab", "EmailAddress": "lab@example.com", "OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle()
	w.makeDue()
	w.settle()
	tk := w.ticketOf(lead.ID)
	if !tk.HasLabel("leadsquared") {
		t.Errorf("ticket labels %v: the initial label was lost with the failed write", tk.Labels)
	}
	if n := len(w.LC.Conversations()); n != 1 {
		t.Errorf("%d conversations, want 1", n)
	}
}

// TestFlowEventIsNotResentAfterARateLimitThenACrash: Flow-builder first
// answers 429 (certainly not sent), then the next attempt sends the event
// and the relay dies before recording it. The relay that takes the row back
// must not send it again.
func TestFlowEventIsNotResentAfterARateLimitThenACrash(t *testing.T) {
	t.Parallel()
	var flowAttempts atomic.Int32
	crash := func(a outbox.Action, _ outbox.Outcome) bool {
		return a.Kind != service.ActFlowEvent || flowAttempts.Add(1) != 2
	}
	w := newWorld(t,
		func(o *worldOptions) {
			o.WrapLimeChat = failFirst(http.MethodPost, "/api/v1/cvf-events", http.StatusTooManyRequests)
		},
		func(o *worldOptions) { o.App.AfterAttempt = crash })
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Flo", "Phone": "+91-9222222222", "OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle()
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	w.settle() // attempt 1: 429
	w.makeDue()
	w.settle() // attempt 2: sent, then the relay "dies"
	if n := len(w.LC.FlowEvents()); n != 1 {
		t.Fatalf("%d Flow-builder events after the crash, want 1", n)
	}
	if _, err := w.pool.Exec(w.ctx, "UPDATE outbox SET lease_until = now() - interval '1 second' WHERE status = 'delivering'"); err != nil {
		t.Fatal(err)
	}
	w.settle() // another relay takes the row back
	if n := len(w.LC.FlowEvents()); n != 1 {
		t.Errorf("%d Flow-builder events: the event was sent again after the crash", n)
	}
	var status, outcome string
	if err := w.pool.QueryRow(w.ctx, "SELECT status, outcome FROM outbox WHERE kind = $1", service.ActFlowEvent).Scan(&status, &outcome); err != nil {
		t.Fatal(err)
	}
	if status != outbox.StatusDead || outcome != "unknown" {
		t.Errorf("flow event row %s/%s, want dead/unknown for a person to decide", status, outcome)
	}
}
