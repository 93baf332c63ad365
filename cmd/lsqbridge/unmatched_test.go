package main

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// inboundRow is one inbound event as the tests inspect it.
type inboundRow struct {
	Source, Type, Outcome, Detail string
}

// mark is a point in a world's history: what came in and went out so far.
type mark struct {
	event, outbox     int64
	lsqCalls, lcCalls int
}

func (w *world) mark() mark {
	w.t.Helper()
	var m mark
	if err := w.pool.QueryRow(w.ctx, "SELECT coalesce((SELECT max(id) FROM inbound_events), 0), coalesce((SELECT max(id) FROM outbox), 0)").
		Scan(&m.event, &m.outbox); err != nil {
		w.t.Fatal(err)
	}
	m.lsqCalls, m.lcCalls = len(w.LSQ.Calls()), len(w.LC.Calls())
	return m
}

// eventsSince returns the inbound events received after m.
func (w *world) eventsSince(m mark) []inboundRow {
	w.t.Helper()
	rows, err := w.pool.Query(w.ctx, "SELECT source, event_type, outcome, detail FROM inbound_events WHERE id > $1 ORDER BY id", m.event)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []inboundRow
	for rows.Next() {
		var r inboundRow
		if err := rows.Scan(&r.Source, &r.Type, &r.Outcome, &r.Detail); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// onlyNotesSince checks that what was sent after m is private notes on
// tickets and nothing else: notes enqueued (any number, and exactly posted
// of them reached LimeChat), no other action, no other write.
func (w *world) onlyNotesSince(m mark, posted int) {
	w.t.Helper()
	if n := w.count("SELECT count(*) FROM outbox WHERE id > $1 AND kind <> $2", m.outbox, service.ActPostNote); n != 0 {
		w.t.Errorf("%d actions other than notes enqueued, want none", n)
	}
	for _, c := range w.LSQ.Calls()[m.lsqCalls:] {
		if slices.ContainsFunc(lsqWrites, func(s string) bool { return strings.HasSuffix(c.Path, s) }) {
			w.t.Errorf("LeadSquared write sent: %s %s", c.Path, c.Body)
		}
	}
	notes := 0
	for _, c := range w.LC.Calls()[m.lcCalls:] {
		switch {
		case c.Method == http.MethodPost && strings.HasSuffix(c.Path, "/messages") && strings.Contains(string(c.Body), `"private":true`):
			notes++
		case c.Method != http.MethodGet && !strings.HasSuffix(c.Path, "/conversations/filter"):
			w.t.Errorf("LimeChat write sent: %s %s %s", c.Method, c.Path, c.Body)
		}
	}
	if notes != posted {
		w.t.Errorf("%d private notes posted, want %d", notes, posted)
	}
}

// lsqWrites are the LeadSquared endpoints that change something.
var lsqWrites = []string{"Lead.Create", "Lead.Update", "OpportunityManagement.svc/Capture", "OpportunityManagement.svc/Update",
	"ProspectActivity.svc/Create", "CustomActivity/Add/ByOpportunityId"}

// nothingSentSince checks no action was enqueued and no write reached
// either platform after m. Reads are not counted: the agent directory is
// refreshed by a timer that starts with the server.
func (w *world) nothingSentSince(m mark) {
	w.t.Helper()
	if n := w.count("SELECT count(*) FROM outbox WHERE id > $1", m.outbox); n != 0 {
		w.t.Errorf("%d actions enqueued, want none", n)
	}
	for _, c := range w.LSQ.Calls()[m.lsqCalls:] {
		if slices.ContainsFunc(lsqWrites, func(s string) bool { return strings.HasSuffix(c.Path, s) }) {
			w.t.Errorf("LeadSquared write sent: %s %s", c.Path, c.Body)
		}
	}
	for _, c := range w.LC.Calls()[m.lcCalls:] {
		if c.Method != http.MethodGet && !strings.HasSuffix(c.Path, "/conversations/filter") {
			w.t.Errorf("LimeChat write sent: %s %s %s", c.Method, c.Path, c.Body)
		}
	}
}

// TestAgentWithNoCounterpartIsUnmatched: a person on one platform with no
// one of that e-mail on the other gets no action but a private note on the
// ticket; the event is recorded unmatched_agent naming the e-mail, and the
// audit view lists them.
func TestAgentWithNoCounterpartIsUnmatched(t *testing.T) {
	t.Parallel()
	const lina = "lina@acme.test" // a LimeChat agent with no LeadSquared user
	tests := []struct {
		name      string
		email     string
		source    string
		missingOn string
		// before prepares the world; change is the person's change.
		before func(t *testing.T, w *world)
		change func(t *testing.T, w *world, lead service.Record, ticket int64)
		// keeps checks the other side still has Asha.
		keeps func(t *testing.T, w *world, lead service.Record, ticket int64)
	}{
		{
			name: "LeadSquared owner who exists only in LeadSquared", email: sandbox.SoloEmail, source: "leadsquared", missingOn: "limechat",
			change: func(t *testing.T, w *world, lead service.Record, _ int64) {
				check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users[sandbox.SoloEmail].ID))
			},
			keeps: func(t *testing.T, w *world, lead service.Record, ticket int64) {
				if tk, _ := w.LC.Conversation(ticket); tk.AssigneeID != w.agentID("asha@acme.test") {
					t.Errorf("ticket assignee = %d, want Asha kept", tk.AssigneeID)
				}
			},
		},
		{
			name: "LimeChat agent who exists only in LimeChat", email: lina, source: "limechat", missingOn: "leadsquared",
			before: func(t *testing.T, w *world) {
				w.LC.AddAgent("Lina Only", lina)
				must[service.RefreshStats](t)(w.App.Agents.Refresh(w.ctx, w.In))
			},
			change: func(t *testing.T, w *world, _ service.Record, ticket int64) {
				u := w.LC.AddAgent("Lina Only", lina) // returns the agent added before
				id, err := strconv.ParseInt(u.ID, 10, 64)
				check(t, err)
				check(t, w.LC.AssignAgent(ticket, id))
			},
			keeps: func(t *testing.T, w *world, lead service.Record, _ int64) {
				if l, _ := w.LSQ.Lead(lead.ID); l.OwnerID != w.Users["asha@acme.test"].ID {
					t.Errorf("lead owner = %s, want Asha kept", l.OwnerID)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
				"FirstName": "Match", "EmailAddress": "match@example.com", "OwnerId": w.Users["asha@acme.test"].ID,
			}))
			w.settle()
			ticket := w.ticketOf(lead.ID).ID
			if tc.before != nil {
				tc.before(t, w)
			}
			m := w.mark()

			tc.change(t, w, lead, ticket)
			w.waitHooks()
			events := w.eventsSince(m)
			unmatched := 0
			for _, e := range events {
				if e.Source != tc.source {
					continue
				}
				if e.Outcome != service.OutcomeUnmatchedAgent || !strings.Contains(e.Detail, tc.email) {
					t.Errorf("%s %s event: outcome %s detail %q; want unmatched_agent naming %s", e.Source, e.Type, e.Outcome, e.Detail, tc.email)
				}
				unmatched++
			}
			if unmatched == 0 {
				t.Fatalf("no %s event came in: %+v", tc.source, events)
			}
			// Nothing is mirrored; the agents get one private note saying why.
			w.onlyNotesSince(m, 0)
			w.settle()
			w.onlyNotesSince(m, 1)
			tc.keeps(t, w, lead, ticket)
			msgs := must[[]service.Message](t)(w.LC.Messages(ticket))
			if len(msgs) != 1 || !msgs[0].Private || !strings.Contains(msgs[0].Content, tc.email) {
				t.Errorf("ticket messages %+v, want one private note naming %s", msgs, tc.email)
			}
			var link string
			check(t, w.pool.QueryRow(w.ctx, "SELECT owner_email FROM links WHERE record_id = $1", lead.ID).Scan(&link))
			if link != "asha@acme.test" {
				t.Errorf("link owner = %s, want Asha kept", link)
			}
			var missingOn string
			var matchedNow bool
			check(t, w.pool.QueryRow(w.ctx, "SELECT missing_on, matched_now FROM audit.unmatched_agents WHERE email = $1", tc.email).Scan(&missingOn, &matchedNow))
			if missingOn != tc.missingOn || matchedNow {
				t.Errorf("audit.unmatched_agents: %s missing on %s (matched now %v), want missing on %s", tc.email, missingOn, matchedNow, tc.missingOn)
			}
		})
	}
}

// TestLeadCreatedWithUnmatchedOwnerOpensUnassignedTicket: the ticket is
// still opened (the scope wants one per lead), unassigned, and the event
// and a private note on the ticket say why.
func TestLeadCreatedWithUnmatchedOwnerOpensUnassignedTicket(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := w.mark()
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Solo", "EmailAddress": "solo-lead@example.com", "OwnerId": w.Users[sandbox.SoloEmail].ID,
	}))
	w.settle()
	if tk := w.ticketOf(lead.ID); tk.AssigneeID != 0 {
		t.Errorf("ticket assignee = %d, want none (solo has no LimeChat agent)", tk.AssigneeID)
	}
	events := w.eventsSince(m)
	if len(events) == 0 || events[0].Type != string(service.EventLeadCreated) ||
		events[0].Outcome != service.OutcomeUnmatchedAgent || !strings.Contains(events[0].Detail, sandbox.SoloEmail) {
		t.Errorf("lead-created event = %+v, want unmatched_agent naming %s", events, sandbox.SoloEmail)
	}
	if n := lcCalls(w.LC, "POST", "/assignments"); n != 0 {
		t.Errorf("%d assignments sent, want none", n)
	}
	// The agents are told why, once the ticket exists to carry the note.
	notes := w.notesOn(w.ticketOf(lead.ID).ID)
	if len(notes) != 1 || !strings.Contains(notes[0].Content, "opened unassigned") || !strings.Contains(notes[0].Content, sandbox.SoloEmail) {
		t.Errorf("notes %+v; want one saying the ticket was opened unassigned because of %s", notes, sandbox.SoloEmail)
	}
	// A later event naming the same owner adds no second note.
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"OwnerId": w.Users[sandbox.SoloEmail].ID, "mx_Interest": "Resort"}))
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users["ravi@acme.test"].ID))
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users[sandbox.SoloEmail].ID))
	w.settle()
	if n := len(w.notesOn(w.ticketOf(lead.ID).ID)); n != 1 {
		t.Errorf("%d notes after the owner came back to %s, want still 1", n, sandbox.SoloEmail)
	}
}

// TestChangesToRecordsNeverLinkedAreUnlinked: changes to a lead and an
// opportunity whose created webhooks never reached lsqbridge, and to a
// conversation a customer opened, are recorded unlinked and cause nothing
// — not even ones a rule would act on (a tag field, a campaign stage).
func TestChangesToRecordsNeverLinkedAreUnlinked(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ravi := w.Users["ravi@acme.test"]
	m := w.mark()

	// Created in LeadSquared while its webhooks were lost.
	w.LSQHooks.SetManual(true)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Stray", "EmailAddress": "stray@example.com", "Phone": "+91-9800011122", "OwnerId": w.Users["asha@acme.test"].ID,
	}))
	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{
		"mx_Custom_1": "Stray trip", "Status": "Open", "mx_Custom_4": "2026-11-01",
	}))
	if lost := w.LSQHooks.TakeQueued(); len(lost) == 0 {
		t.Fatal("no created webhooks were queued to lose")
	}
	w.LSQHooks.SetManual(false)
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, ravi.ID))
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": "Villa", "ProspectStage": "Qualified"}))
	check(t, w.LSQ.UpdateOpportunity(opp.ID, map[string]string{"Status": "Won"}))

	// A customer writes in; an agent picks it up and tags it.
	tk, err := w.LC.CreateConversationByPerson(service.Contact{Name: "Walk In", Email: "walkin@example.com", Phone: "+919800033344"})
	check(t, err)
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("ravi@acme.test")))
	check(t, w.LC.AddLabel(tk.ID, "wants-callback"))
	check(t, w.LC.AddLabel(tk.ID, "quote-sent"))

	w.settle()
	unlinked := map[string]int{}
	for _, e := range w.eventsSince(m) {
		switch e.Outcome {
		case service.OutcomeUnlinked:
			unlinked[e.Source]++
		case service.OutcomeIgnored:
			// Webhooks of kinds lsqbridge does not sync (a message).
		default:
			t.Errorf("%s %s event: outcome %s (%s), want unlinked", e.Source, e.Type, e.Outcome, e.Detail)
		}
	}
	// Owner change (2 webhooks), field save (2: updated, stage-changed),
	// opportunity update (2); conversation created, assigned, 2 labels.
	if unlinked["leadsquared"] < 5 || unlinked["limechat"] < 4 {
		t.Errorf("unlinked events by source %v, want every change recorded", unlinked)
	}
	w.nothingSentSince(m)
	if n := w.count("SELECT count(*) FROM links"); n != 0 {
		t.Errorf("%d links exist, want none", n)
	}
	if n := len(w.LC.FlowEvents()); n != 0 {
		t.Errorf("%d Flow-builder events sent for records never linked", n)
	}
}
