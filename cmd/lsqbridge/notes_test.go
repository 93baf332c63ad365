package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// notesOn returns the private notes on a ticket.
func (w *world) notesOn(ticket int64) []service.Message {
	w.t.Helper()
	var out []service.Message
	for _, m := range must[[]service.Message](w.t)(w.LC.Messages(ticket)) {
		if m.Private {
			out = append(out, m)
		}
	}
	return out
}

// TestUnmatchedOwnerGetsOnePrivateNote: a lead's owner becomes someone with
// no LimeChat agent. Nothing is mirrored, and the ticket's agents get one
// private note saying so and what to do — one, although several events
// name that owner (each owner change fires two webhooks, and the owner
// comes back to the same person later).
func TestUnmatchedOwnerGetsOnePrivateNote(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Noted", "EmailAddress": "noted@example.com",
		"OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle()
	tk := w.ticketOf(lead.ID)

	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users[sandbox.SoloEmail].ID))
	w.settle()
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users["ravi@acme.test"].ID))
	w.settle()
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users[sandbox.SoloEmail].ID))
	w.settle()

	if n := w.count("SELECT count(*) FROM inbound_events WHERE outcome = 'unmatched_agent' AND detail LIKE '%' || $1 || '%'", sandbox.SoloEmail); n < 3 {
		t.Fatalf("%d events named the unmatched owner, want at least 3 (two webhooks per change, twice)", n)
	}
	notes := w.notesOn(tk.ID)
	if len(notes) != 1 {
		t.Fatalf("%d private notes on the ticket, want 1: %+v", len(notes), notes)
	}
	for _, want := range []string{sandbox.SoloEmail, "no LimeChat agent", "To fix it", "[lsqbridge note:l"} {
		if !strings.Contains(notes[0].Content, want) {
			t.Errorf("note %q lacks %q", notes[0].Content, want)
		}
	}
	if !notes[0].Outgoing {
		t.Errorf("note %+v is not an outgoing (agent side) message", notes[0])
	}
	if got, _ := w.LC.Conversation(tk.ID); got.AssigneeID != w.agentID("ravi@acme.test") {
		t.Errorf("the ticket's agent is %d; want Ravi kept (solo has no agent)", got.AssigneeID)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE kind = $1", service.ActPostNote); n != 1 {
		t.Errorf("%d note actions enqueued, want 1", n)
	}
	assertQuiet(t, w)
}

// TestDeadActionNotesReachAHeldTicket: an action dies (a Flow-builder event
// that may have been sent), which holds its link. The ticket still gets a
// note saying so — notes are not held — and, once an agent's change waits
// behind it, the reconciler's sweep adds one note saying that change waits.
// Neither is posted twice.
func TestDeadActionNotesReachAHeldTicket(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Held", "EmailAddress": "held@example.com",
		"Phone": "+91-9666666666", "OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle()
	tk := w.ticketOf(lead.ID)

	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	check(t, w.LSQHooks.Wait(w.ctx))
	w.LC.SetFaults(limechatfake.Faults{FailNext: 1}) // Flow-builder answers 500: maybe sent
	w.settle()
	var dead int64
	check(t, w.pool.QueryRow(w.ctx, "SELECT id FROM outbox WHERE kind = 'limechat.flow_event' AND status = 'dead'").Scan(&dead))
	notes := w.notesOn(tk.ID)
	if len(notes) != 1 || !strings.Contains(notes[0].Content, "Flow-builder") ||
		!strings.Contains(notes[0].Content, "outbox retry|drop "+strconv.FormatInt(dead, 10)) {
		t.Fatalf("notes %+v; want one about the Flow-builder event, naming action %d", notes, dead)
	}

	// An agent's change waits behind the dead action.
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("ravi@acme.test")))
	w.settle()
	if l, _ := w.LSQ.Lead(lead.ID); l.OwnerID != w.Users["asha@acme.test"].ID {
		t.Fatalf("the owner changed to %s while the link is held", l.OwnerID)
	}
	var waiting, notesWaiting int
	check(t, w.pool.QueryRow(w.ctx, "SELECT waiting_actions FROM audit.held_links WHERE dead_action_id = $1", dead).Scan(&waiting))
	check(t, w.pool.QueryRow(w.ctx, "SELECT count(*) FROM outbox WHERE kind = $1 AND status = 'pending'", service.ActPostNote).Scan(&notesWaiting))
	if notesWaiting != 0 {
		t.Errorf("%d notes wait behind the dead action; notes are not held", notesWaiting)
	}
	if waiting < 1 {
		t.Errorf("audit.held_links: %d actions waiting, want the owner change", waiting)
	}
	if st := w.reconcile(); st.Notes != 1 {
		t.Errorf("reconcile pass: %+v, want 1 note (the held change)", st)
	}
	notes = w.notesOn(tk.ID)
	if len(notes) != 2 || !strings.Contains(notes[1].Content, "not mirrored yet ("+strconv.Itoa(waiting)+" update(s) waiting)") {
		t.Fatalf("notes %+v; want a second one saying a change waits", notes)
	}
	if st := w.reconcile(); st.Notes != 0 {
		t.Errorf("second pass: %+v, want no more notes", st)
	}
	if n := len(w.notesOn(tk.ID)); n != 2 {
		t.Errorf("%d notes after the second pass, want 2", n)
	}

	// Dropping the dead action releases the link: the change goes through.
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": w.dbURL(), "LSQBRIDGE_MASTER_KEY": testMasterKey}}
	c.mustRun("outbox", "drop", "--integration", "demo", strconv.FormatInt(dead, 10))
	w.settle()
	if l, _ := w.LSQ.Lead(lead.ID); l.OwnerID != w.Users["ravi@acme.test"].ID {
		t.Errorf("after the drop the owner is %s, want Ravi", l.OwnerID)
	}
}

// TestNotesSwitchedOffPostNothing: with notes.enabled false an unmatched
// owner and a dead action leave the ticket without notes.
func TestNotesSwitchedOffPostNothing(t *testing.T) {
	t.Parallel()
	rules := sandbox.DemoRules()
	off := false
	rules.Notes.Enabled = &off
	w := newWorld(t, func(o *worldOptions) { o.Rules = &rules })
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Quiet", "EmailAddress": "quiet@example.com",
		"Phone": "+91-9777777777", "OwnerId": w.Users[sandbox.SoloEmail].ID}))
	w.settle()
	tk := w.ticketOf(lead.ID)
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	check(t, w.LSQHooks.Wait(w.ctx))
	w.LC.SetFaults(limechatfake.Faults{FailNext: 1})
	w.settle()
	w.reconcile()
	if n := w.count("SELECT count(*) FROM outbox WHERE status = 'dead'"); n != 1 {
		t.Fatalf("%d dead actions, want the Flow-builder event", n)
	}
	if notes := w.notesOn(tk.ID); len(notes) != 0 {
		t.Errorf("notes posted with notes.enabled false: %+v", notes)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE kind = $1", service.ActPostNote); n != 0 {
		t.Errorf("%d note actions enqueued with notes.enabled false", n)
	}
}

// TestANoteWhoseAnswerWasLostIsPostedOnce: LimeChat posts the note but its
// answer is lost (a 502 after the effect). The retry finds the note by the
// marker it carries instead of posting it again.
func TestANoteWhoseAnswerWasLostIsPostedOnce(t *testing.T) {
	t.Parallel()
	var lost atomic.Bool
	w := newWorld(t, func(o *worldOptions) {
		o.WrapLimeChat = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") && lost.CompareAndSwap(false, true) {
					h.ServeHTTP(httptest.NewRecorder(), r) // LimeChat posts it…
					http.Error(rw, "<html>Bad Gateway</html>", http.StatusBadGateway)
					return
				}
				h.ServeHTTP(rw, r)
			})
		}
	})
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Lost", "EmailAddress": "lost-note@example.com",
		"OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle()
	tk := w.ticketOf(lead.ID)
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users[sandbox.SoloEmail].ID))
	w.settle()
	if !lost.Load() {
		t.Fatal("no note was posted")
	}
	w.makeDue()
	w.settle()
	if notes := w.notesOn(tk.ID); len(notes) != 1 {
		t.Fatalf("%d notes on the ticket, want 1: %+v", len(notes), notes)
	}
	var status, outcome string
	check(t, w.pool.QueryRow(w.ctx, "SELECT status, outcome FROM outbox WHERE kind = $1", service.ActPostNote).Scan(&status, &outcome))
	if status != "delivered" || outcome != "found posted" {
		t.Errorf("note action %s/%s, want delivered/found posted", status, outcome)
	}
}
