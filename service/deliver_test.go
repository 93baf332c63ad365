package service_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestDeliveringAnAssignmentSetsTheTicketsAgentAndRecordsTheWrite: the
// assign action assigns the ticket to the owner's agent, once, and its
// row and the link's ledger say what was written (so its echo is known).
func TestDeliveringAnAssignmentSetsTheTicketsAgentAndRecordsTheWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	b.apply(b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user}))
	b.drain()

	if got, want := b.lc.Calls("assign"), []string{fmt.Sprintf("assign %d %d", l.TicketID, ravi.agent)}; !slices.Equal(got, want) {
		t.Errorf("LimeChat assign calls %v, want %v", got, want)
	}
	if got := b.lc.Conversation(l.TicketID).AssigneeID; got != ravi.agent {
		t.Errorf("ticket assigned to %d, want %d", got, ravi.agent)
	}
	a := b.actions(l.ID, service.ActAssign)
	if len(a) != 1 || a[0].Status != outbox.StatusDelivered || a[0].Attempts != 1 ||
		!jsonEq(t, a[0].Result, fmt.Sprintf(`{"ticket_id": %d, "agent_id": %d}`, l.TicketID, ravi.agent)) {
		t.Errorf("assign action %+v, want delivered on the first attempt with the ticket and agent", a)
	}
	w := b.link("lead-1").Written["limechat.assignee"]
	if w.Known != ravi.email || len(w.Marks) == 0 || w.Marks[len(w.Marks)-1].Value != ravi.email ||
		w.Marks[len(w.Marks)-1].Prev != fmt.Sprint(asha.agent) {
		t.Errorf("ledger of the assignee %+v, want ravi known and marked as written over asha's agent", w)
	}
}

// TestDeliveringAnOwnerChangeWritesTheAgentsUserToLeadSquared: an agent
// taking the ticket in LimeChat makes their LeadSquared user the lead's
// owner, in one update, recorded as written. (The ticket was assigned by
// lsqbridge moments before, so the agent is also assigned again in case
// that write landed after theirs: LimeChat already shows them, so no call
// is made.)
func TestDeliveringAnOwnerChangeWritesTheAgentsUserToLeadSquared(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	res := b.apply(lcAssigned(b.lc.PersonAssigns(l.TicketID, meera.agent), asha.agent))
	if res.Outcome != service.OutcomeApplied {
		t.Fatalf("agent change: %+v, want applied", res)
	}
	a := b.actions(l.ID, service.ActSetOwner)
	if len(a) != 1 || !jsonEq(t, a[0].Payload, fmt.Sprintf(`{"email": %q, "user_id": %q}`, meera.email, meera.user)) {
		t.Fatalf("set_owner actions %+v, want one for meera", a)
	}
	b.drain()

	if got, want := b.lsq.Calls("update_lead"), []string{"update_lead lead-1 OwnerId=" + meera.user}; !slices.Equal(got, want) {
		t.Errorf("LeadSquared updates %v, want %v", got, want)
	}
	if got := b.lsq.Lead("lead-1").OwnerID; got != meera.user {
		t.Errorf("lead owner %s, want %s", got, meera.user)
	}
	a = b.actions(l.ID, service.ActSetOwner)
	if a[0].Status != outbox.StatusDelivered || !jsonEq(t, a[0].Result, fmt.Sprintf(`{"fields": {"OwnerId": %q}, "merged": []}`, meera.user)) {
		t.Errorf("set_owner action %+v, want delivered with the fields sent", a[0])
	}
	if got := b.link("lead-1").Written["leadsquared.owner"].Known; got != meera.email {
		t.Errorf("LeadSquared owner known as %q, want %q", got, meera.email)
	}
	if calls := b.lc.Calls("assign"); len(calls) != 0 {
		t.Errorf("LimeChat assign calls %v, want none (the ticket shows meera already)", calls)
	}
}

// TestDeliveringALabelKeepsTheLabelsAPersonAdded: a field rule's tag is
// added to the ticket's labels as they are now — a label an agent added
// meanwhile stays (the labels API replaces the whole list) — and a tag an
// agent adds sets the lead's field in LeadSquared.
func TestDeliveringALabelKeepsTheLabelsAPersonAdded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	b.lc.PersonLabels(l.TicketID, "vip") // its webhook not applied yet
	b.apply(b.lsqChange("lead-1", map[string]string{"ProspectStage": "Hot"}))
	a := b.actions(l.ID, service.ActAddLabels)
	if len(a) != 1 || !jsonEq(t, a[0].Payload, `{"labels": ["hot-lead"]}`) {
		t.Fatalf("add_labels actions %+v, want one adding hot-lead", a)
	}
	b.drain()

	want := []string{"leadsquared", "vip", "hot-lead"}
	if got := b.lc.Calls("set_labels"); len(got) != 1 || got[0] != fmt.Sprintf("set_labels %d %v", l.TicketID, want) {
		t.Errorf("LimeChat label writes %v, want one of %v", got, want)
	}
	if got := b.lc.Conversation(l.TicketID).Labels; !slices.Equal(got, want) {
		t.Errorf("ticket labels %v, want %v", got, want)
	}
	a = b.actions(l.ID, service.ActAddLabels)
	if a[0].Status != outbox.StatusDelivered || !jsonEq(t, a[0].Result, `{"labels": ["leadsquared", "vip", "hot-lead"]}`) {
		t.Errorf("add_labels action %+v, want delivered with the list written", a[0])
	}
	if got := b.link("lead-1").Labels; !slices.Equal(got, []string{"leadsquared", "hot-lead"}) {
		t.Errorf("link labels %v, want the link's own (the agent's vip is not applied yet)", got)
	}

	// An agent tags the ticket: the tag's rule sets the lead's field.
	tk := b.lc.Conversation(l.TicketID)
	b.lc.PersonLabels(l.TicketID, "wants-callback")
	after := b.lc.Conversation(l.TicketID)
	b.apply(service.Event{Source: service.SourceLimeChat, Type: service.EventConversationUpdated, Ticket: &after,
		OccurredAt: after.UpdatedAt, LabelsChanged: true, PreviousLabels: tk.Labels})
	b.drain()
	if got := b.lsq.Lead("lead-1").Fields["mx_Callback"]; got != "Yes" {
		t.Errorf("lead's mx_Callback %q after the wants-callback tag, want Yes", got)
	}
	if got := b.actions(l.ID, service.ActSetFields); len(got) != 1 || got[0].Status != outbox.StatusDelivered {
		t.Errorf("set_fields actions %+v, want one delivered", got)
	}
}

// TestATransientPlatformErrorIsRetriedNotDead: a 5xx from LimeChat leaves
// the assignment waiting for its next attempt (counted, its retry window
// started, marked as maybe sent); the next attempt makes it.
func TestATransientPlatformErrorIsRetriedNotDead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	b.lc.fail("assign", fault{err: transient("HTTP 502 Bad Gateway")})
	b.apply(b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user}))
	b.drain()

	a := b.actions(l.ID, service.ActAssign)[0]
	if a.Status != outbox.StatusPending || a.Attempts != 1 || !a.FirstFailed || a.Outcome != outbox.NoteMaybeSent ||
		!strings.Contains(a.Last, "502") {
		t.Fatalf("after a 502: %+v, want pending for a retry, the attempt counted, maybe sent, the error kept", a)
	}
	if got := b.lc.Conversation(l.TicketID).AssigneeID; got != asha.agent {
		t.Errorf("ticket assigned to %d after the failed call", got)
	}
	b.makeDue()
	b.drain()
	a = b.actions(l.ID, service.ActAssign)[0]
	if a.Status != outbox.StatusDelivered || a.Attempts != 2 {
		t.Errorf("after the retry: %+v, want delivered on attempt 2", a)
	}
	if got := b.lc.Conversation(l.TicketID).AssigneeID; got != ravi.agent {
		t.Errorf("ticket assigned to %d, want ravi's agent %d", got, ravi.agent)
	}
	if notes := b.lc.PrivateNotes(l.TicketID); len(notes) != 0 {
		t.Errorf("agents were told %q about a failure that passed", notes)
	}
}

// TestAPermanentPlatformErrorIsDeadAndHoldsTheLink: a refusal LimeChat
// will repeat kills the assignment at once; the ticket's agents get a
// note saying so; the link's later changes wait behind it (not lost, not
// attempted) until support retries it, then everything follows in order.
func TestAPermanentPlatformErrorIsDeadAndHoldsTheLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	b.lc.fail("assign", fault{err: permanent("HTTP 422 the agent is not a member of the inbox")})
	b.apply(b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user}))
	b.drain()
	dead := b.actions(l.ID, service.ActAssign)[0]
	if dead.Status != outbox.StatusDead || dead.Attempts != 1 || !strings.Contains(dead.Last, "422") {
		t.Fatalf("after a 422: %+v, want dead after one attempt with the error kept", dead)
	}
	notes := b.lc.PrivateNotes(l.TicketID)
	if len(notes) != 1 || !strings.Contains(notes[0], "will not be retried") || !strings.Contains(notes[0], fmt.Sprint(dead.ID)) {
		t.Errorf("private notes %q, want one telling the agents the assignment failed for good", notes)
	}

	b.apply(b.lsqChange("lead-1", map[string]string{"ProspectStage": "Hot"}))
	b.drain()
	held := b.actions(l.ID, service.ActAddLabels)
	if len(held) != 1 || held[0].Status != outbox.StatusPending || held[0].Attempts != 0 {
		t.Errorf("a later change %+v, want waiting behind the dead action, unattempted", held)
	}
	if calls := b.lc.Calls("set_labels"); len(calls) != 0 {
		t.Errorf("LimeChat labels written %v while the link was held", calls)
	}
	if n := b.count("SELECT count(*) FROM audit.held_links WHERE link_id = $1", l.ID); n != 1 {
		t.Errorf("audit.held_links lists the link %d times, want once", n)
	}

	if ok, err := outbox.NewAdmin(b.pool).Retry(b.ctx, "acme", dead.ID); !ok || err != nil {
		t.Fatalf("retry the dead action: %v %v", ok, err)
	}
	b.drain()
	for _, a := range b.actions(l.ID, service.ActAssign, service.ActAddLabels) {
		if a.Status != outbox.StatusDelivered {
			t.Errorf("after support's retry: %+v, want delivered", a)
		}
	}
	tk := b.lc.Conversation(l.TicketID)
	if tk.AssigneeID != ravi.agent || !tk.HasLabel("hot-lead") {
		t.Errorf("ticket %+v after the retry, want ravi's agent and the hot-lead tag", tk)
	}
}

// TestALeadSquaredRateLimitPausesItsCallsAndSpendsNoAttempt: a rate-limit
// answer gives the attempt back and pauses the integration's LeadSquared
// calls for as long as asked — in every process, through the database —
// while its LimeChat actions keep flowing.
func TestALeadSquaredRateLimitPausesItsCallsAndSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	other := b.linkedLead("lead-2", asha)
	b.lsq.fail("update_lead", fault{err: rateLimited(time.Minute, "HTTP 429 MXAPIRateLimitExceededException")})
	b.apply(lcAssigned(b.lc.PersonAssigns(l.TicketID, meera.agent), asha.agent))
	b.drain()

	a := b.actions(l.ID, service.ActSetOwner)[0]
	if a.Status != outbox.StatusPending || a.Attempts != 0 || a.FirstFailed || a.Outcome != outbox.NoteNotSent {
		t.Fatalf("after a rate limit: %+v, want pending, no attempt spent, no retry window, not sent", a)
	}
	if n := b.count("SELECT count(*) FROM integrations WHERE id = 'acme' AND lsq_paused_until > now() + interval '50 seconds'"); n != 1 {
		t.Errorf("the integration's LeadSquared calls are not paused for the minute asked")
	}
	b.makeDue()
	b.apply(b.lsqChange("lead-2", map[string]string{"OwnerId": ravi.user}))
	b.drain()
	if calls := b.lsq.Calls("update_lead"); len(calls) != 1 {
		t.Errorf("LeadSquared called %d times, want only the refused call while paused", len(calls))
	}
	if got := b.lc.Conversation(other.TicketID).AssigneeID; got != ravi.agent {
		t.Errorf("a LimeChat assignment of the same integration waited for LeadSquared's pause (ticket on %d)", got)
	}
}
