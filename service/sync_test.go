package service_test

import (
	"fmt"
	"testing"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestALeadSquaredOwnerChangeEnqueuesOneAssignForALinkedLeadOnly: a
// salesperson giving a linked lead to someone else makes exactly one
// assignment of the ticket to that person's agent (a redelivered webhook
// adds none); the same change on a lead lsqbridge never linked is
// recorded as unlinked and changes nothing.
func TestALeadSquaredOwnerChangeEnqueuesOneAssignForALinkedLeadOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)

	ev := b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user})
	ev.DedupKey = "owner-change-1"
	if res := b.apply(ev); res.Outcome != service.OutcomeApplied || res.Actions != 1 || res.LinkID != l.ID {
		t.Fatalf("owner change of a linked lead: %+v, want applied with one action on link %d", res, l.ID)
	}
	if res := b.apply(ev); res.Outcome != service.OutcomeDuplicate || res.Actions != 0 {
		t.Errorf("the same delivery again: %+v, want a duplicate with no action", res)
	}
	assigns := b.actions(l.ID, service.ActAssign)
	if len(assigns) != 1 {
		t.Fatalf("%d assign actions, want exactly 1: %+v", len(assigns), assigns)
	}
	if want := fmt.Sprintf(`{"email": %q, "agent_id": %d}`, ravi.email, ravi.agent); !jsonEq(t, assigns[0].Payload, want) {
		t.Errorf("assign payload %s, want %s", assigns[0].Payload, want)
	}
	if got := b.link("lead-1"); got.Owner != ravi.email {
		t.Errorf("link owner %q, want %q", got.Owner, ravi.email)
	}

	b.lsq.PersonCreatesLead("lead-2", asha.user, nil) // no created webhook: never linked
	outbox := b.count("SELECT count(*) FROM outbox")
	res := b.apply(b.lsqChange("lead-2", map[string]string{"OwnerId": ravi.user}))
	if res.Outcome != service.OutcomeUnlinked || res.Actions != 0 {
		t.Errorf("owner change of an unlinked lead: %+v, want unlinked, no action", res)
	}
	if n := b.count("SELECT count(*) FROM outbox"); n != outbox {
		t.Errorf("%d actions after the unlinked lead's change, want still %d", n, outbox)
	}
	if n := b.count("SELECT count(*) FROM links WHERE record_id = 'lead-2'"); n != 0 {
		t.Errorf("the unlinked lead got %d links", n)
	}
	if n := b.count("SELECT count(*) FROM inbound_events WHERE id = $1 AND outcome = 'unlinked'", res.EventID); n != 1 {
		t.Errorf("the unlinked lead's delivery is not recorded as unlinked")
	}
}

// TestAnEchoOfOurOwnAssignmentEnqueuesNothing: LimeChat reports back the
// assignment lsqbridge made — even after a salesperson has moved the lead
// on to someone else, when it would otherwise look like an older change to
// write back — and nothing is enqueued: no loop. Both sides end on the
// newest owner, and LeadSquared is never written.
func TestAnEchoOfOurOwnAssignmentEnqueuesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	b.apply(b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user}))
	b.drain()
	echo := lcAssigned(b.lc.Conversation(l.TicketID), asha.agent)
	if echo.Ticket.AssigneeID != ravi.agent {
		t.Fatalf("ticket assigned to %d after delivery, want ravi's agent %d", echo.Ticket.AssigneeID, ravi.agent)
	}

	// Before the echo arrives, the lead moves on to meera.
	b.apply(b.lsqChange("lead-1", map[string]string{"OwnerId": meera.user}))
	before := len(b.actions(l.ID))
	if res := b.apply(echo); res.Outcome != service.OutcomeEcho || res.Actions != 0 {
		t.Errorf("late echo of our assignment: %+v, want echo with no action", res)
	}
	if n := len(b.actions(l.ID)); n != before {
		t.Errorf("the echo enqueued %d actions", n-before)
	}
	b.drain()
	if res := b.apply(lcAssigned(b.lc.Conversation(l.TicketID), ravi.agent)); res.Outcome != service.OutcomeEcho || res.Actions != 0 {
		t.Errorf("echo of the second assignment: %+v, want echo with no action", res)
	}

	if got := b.lc.Conversation(l.TicketID).AssigneeID; got != meera.agent {
		t.Errorf("ticket ends assigned to %d, want meera's agent %d", got, meera.agent)
	}
	if got := b.link("lead-1").Owner; got != meera.email {
		t.Errorf("link owner %q, want %q", got, meera.email)
	}
	if calls := b.lsq.Calls("update_lead"); len(calls) != 0 {
		t.Errorf("LeadSquared was written %v: an echo was taken for a person's change", calls)
	}
	if n := b.count("SELECT count(*) FROM outbox WHERE status <> 'delivered'"); n != 0 {
		t.Errorf("%d actions not delivered at the end", n)
	}
}
