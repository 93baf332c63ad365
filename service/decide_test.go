package service

import (
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// mapDirectory is a map-backed Directory: people by e-mail.
type mapDirectory map[string]Agent

func (d mapDirectory) ByLeadSquaredUser(id string) (Agent, bool) {
	for _, a := range d {
		if id != "" && a.LeadSquaredUserID == id {
			return a, true
		}
	}
	return Agent{}, false
}

func (d mapDirectory) ByLimeChatAgent(id int64) (Agent, bool) {
	for _, a := range d {
		if id != 0 && a.LimeChatAgentID == id {
			return a, true
		}
	}
	return Agent{}, false
}

func (d mapDirectory) ByEmail(email string) (Agent, bool) {
	a, ok := d[email]
	return a, ok
}

// The people, records and rules of the decide tests. Asha, Ravi and Meera
// are on both platforms; Solo only in LeadSquared, LCOnly only in LimeChat.
const (
	tAsha   = "asha@acme.test"
	tRavi   = "ravi@acme.test"
	tMeera  = "meera@acme.test"
	tSolo   = "solo@acme.test"
	tLCOnly = "lconly@acme.test"

	tAshaAgent, tRaviAgent, tMeeraAgent, tLCOnlyAgent = int64(1), int64(2), int64(3), int64(9)
	tAshaUser, tRaviUser, tMeeraUser, tSoloUser       = "u-asha", "u-ravi", "u-meera", "u-solo"

	tPhone     = "+91-9876543210" // as LeadSquared stores it
	tE164      = "+919876543210"  // as LimeChat stores it
	tFlowPhone = "919876543210"   // as Flow-builder wants it

	tTicket = int64(100)
	tLeadID = "L1"
	tOppID  = "O1"

	tTagCallback = "wants-callback" // tag → field
	tTagQuote    = "quote-sent"     // tag → activity
	tQuoteNote   = "Quote sent from LC"
)

var testPeople = mapDirectory{
	tAsha:   {Email: tAsha, LeadSquaredUserID: tAshaUser, LimeChatAgentID: tAshaAgent},
	tRavi:   {Email: tRavi, LeadSquaredUserID: tRaviUser, LimeChatAgentID: tRaviAgent},
	tMeera:  {Email: tMeera, LeadSquaredUserID: tMeeraUser, LimeChatAgentID: tMeeraAgent},
	tSolo:   {Email: tSolo, LeadSquaredUserID: tSoloUser},
	tLCOnly: {Email: tLCOnly, LimeChatAgentID: tLCOnlyAgent},
}

// minute is minute n of the test's day: source times of events.
func minute(n int) time.Time { return time.Date(2026, 1, 10, 9, n, 0, 0, time.UTC) }

func testRules() *Rules {
	return &Rules{
		Sync: SyncRules{Leads: true, Opportunities: true, OpportunityTypes: []int{12000}, InitialLabels: []string{"leadsquared"},
			TicketFields: map[string]string{"mx_City": "city"}},
		FieldTags: []FieldTagRule{
			{Record: KindLead, Field: "mx_Interest", Value: "Villa", Tag: "interest-villa"},
			{Record: KindLead, Field: "ProspectStage", Value: "Hot", Tag: "hot-lead"},
		},
		TagFields: []TagFieldRule{
			{Tag: tTagCallback, Record: KindLead, Set: map[string]string{"mx_Callback_Requested": "Yes"}},
			{Tag: "booked", Record: KindOpportunity, Set: map[string]string{"Status": "Won"}},
		},
		TagNotes: []TagNoteRule{{Tag: tTagQuote, ActivityEvent: 201, Note: tQuoteNote}},
		Campaigns: []CampaignRule{
			{Record: KindLead, Field: "ProspectStage", To: "Qualified", Event: "lead_qualified",
				Data: map[string]string{"first_name": "FirstName"}},
			{Record: KindOpportunity, Field: "Status", From: "Open", To: "Won", Event: "booking_confirmed",
				Data: map[string]string{"booking": "mx_Custom_1"}},
		},
	}
}

// noteAction is the private note decide adds for a cause.
func noteAction(cause, text string) Action {
	return Action{Kind: ActPostNote, Key: "note:" + cause, Once: cause, Unordered: true, Payload: NotePayload{Cause: cause, Text: text}}
}

// notesOff is testRules with private notes switched off.
func notesOff() *Rules {
	r := testRules()
	off := false
	r.Notes.Enabled = &off
	return r
}

// leadLink is an active lead link owned by Asha, last changed at minute 10.
func leadLink() *Link {
	return &Link{
		IntegrationID: "demo", ID: 7, Kind: KindLead, RecordID: tLeadID, LeadID: tLeadID, TicketID: tTicket,
		OwnerEmail: tAsha, OwnerChangedAt: minute(10), Labels: []string{"leadsquared"},
		Fields: map[string]string{"FirstName": "Priya", "Phone": tPhone, "ProspectStage": "New"},
		State:  LinkActive, Origin: OriginLeadSquared, LeadSquaredSeenAt: minute(10),
		Seen:    map[string]time.Time{"field:ProspectStage": minute(10)},
		Written: map[string]Written{},
	}
}

// oppLink is an active opportunity link on lead L1, status Open.
func oppLink() *Link {
	l := leadLink()
	l.Kind, l.RecordID = KindOpportunity, tOppID
	l.Fields = map[string]string{"Status": "Open", "mx_Custom_1": "Goa holiday"}
	l.Seen = map[string]time.Time{}
	return l
}

// lsqChange is a LeadSquared update with Before/After: only the named
// fields changed; OwnerId (Owner on opportunities) counts when in fields.
func lsqChange(kind RecordKind, when time.Time, fields map[string]string) Event {
	id, owner := tLeadID, fields["OwnerId"]
	if kind == KindOpportunity {
		id, owner = tOppID, fields["Owner"]
	}
	changed := slices.Sorted(maps.Keys(fields))
	return Event{Source: SourceLeadSquared, Type: EventLeadUpdated, OccurredAt: when, Before: map[string]string{}, Changed: changed,
		Record: &Record{Kind: kind, ID: id, LeadID: tLeadID, OwnerID: owner, Fields: fields}}
}

// lcAssign is a conversation_updated whose assignee changed from prev to agent.
func lcAssign(when time.Time, prev, agent int64) Event {
	return Event{Source: SourceLimeChat, Type: EventConversationUpdated, OccurredAt: when,
		AssigneeChanged: true, PreviousAssigneeID: prev, Ticket: &Ticket{ID: tTicket, AssigneeID: agent}}
}

// lcLabels is a conversation_updated whose labels changed from prev to now.
func lcLabels(when time.Time, prev, now []string) Event {
	return Event{Source: SourceLimeChat, Type: EventConversationUpdated, OccurredAt: when,
		LabelsChanged: true, PreviousLabels: prev, Ticket: &Ticket{ID: tTicket, AssigneeID: tAshaAgent, Labels: now}}
}

type decideCase struct {
	name    string
	link    *Link
	event   Event
	rules   *Rules
	outcome string
	detail  []string // substrings of Detail
	actions []Action // compared by Kind, Key and Payload; nil means none
	check   func(t *testing.T, d Decision)
}

// deepCopy copies a link down to its ledger's marks, to tell whether
// decide wrote into its input.
func deepCopy(l *Link) *Link {
	c := l.clone()
	for k, w := range c.Written {
		w.Marks = slices.Clone(w.Marks)
		c.Written[k] = w
	}
	return c
}

func runDecide(t *testing.T, tests []decideCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rules := tc.rules
			if rules == nil {
				rules = testRules()
			}
			var before *Link
			if tc.link != nil {
				before = deepCopy(tc.link)
			}
			d := decide(Input{Link: tc.link, Event: tc.event, Rules: rules, Agents: testPeople})
			if d.Outcome != tc.outcome {
				t.Errorf("outcome = %q (%s), want %q", d.Outcome, d.Detail, tc.outcome)
			}
			for _, s := range tc.detail {
				if !strings.Contains(d.Detail, s) {
					t.Errorf("detail %q does not mention %q", d.Detail, s)
				}
			}
			if len(d.Actions) != len(tc.actions) || (len(d.Actions) > 0 && !reflect.DeepEqual(d.Actions, tc.actions)) {
				t.Errorf("actions:\n got %+v\nwant %+v", d.Actions, tc.actions)
			}
			if tc.link != nil && !reflect.DeepEqual(tc.link, before) {
				t.Errorf("decide changed its input link: %+v, was %+v", tc.link, before)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func TestDecideCreatedRecordOpensTicketForOwnersAgentWithInitialLabels(t *testing.T) {
	t.Parallel()
	created := func(kind RecordKind, owner string, typ int, fields map[string]string) Event {
		id, typName := tLeadID, EventLeadCreated
		if kind == KindOpportunity {
			id, typName = tOppID, EventOpportunityCreated
		}
		return Event{Source: SourceLeadSquared, Type: typName, OccurredAt: minute(1),
			Record: &Record{Kind: kind, ID: id, LeadID: tLeadID, OwnerID: owner, OpportunityType: typ, Fields: fields}}
	}
	priya := map[string]string{"FirstName": "Priya", "LastName": "Shah", "EmailAddress": "priya@example.com",
		"Phone": tPhone, "mx_City": "Pune", "mx_Interest": "Villa", "ProspectStage": "Hot"}
	wantTicket := CreateTicketPayload{RecordKind: KindLead, RecordID: tLeadID, LeadID: tLeadID, Name: "Priya Shah",
		Email: "priya@example.com", Phone: tE164, AgentEmail: tAsha,
		Labels:           []string{"leadsquared", "hot-lead", "interest-villa"},
		CustomAttributes: map[string]any{"lsq_record_id": tLeadID, "lsq_record_kind": "lead", "lsq_lead_id": tLeadID, "city": "Pune"}}
	soloTicket := wantTicket
	soloTicket.AgentEmail = tSolo
	noLeads := testRules()
	noLeads.Sync.Leads = false

	runDecide(t, []decideCase{
		{
			name:  "lead created: link pending its ticket, assigned to the owner's agent, initial labels and field tags",
			event: created(KindLead, tAshaUser, 0, priya), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActCreateTicket, Key: "ticket", Payload: wantTicket}},
			check: func(t *testing.T, d Decision) {
				l := d.Link
				if !d.Create || l.State != LinkPendingTicket || l.OwnerEmail != tAsha || l.TicketID != 0 {
					t.Errorf("link = %+v (create %v), want a new pending link owned by Asha", l, d.Create)
				}
				if l.Fields["mx_Interest"] != "Villa" || l.Fields["ProspectStage"] != "Hot" || l.Fields["mx_City"] != "" {
					t.Errorf("link fields = %v, want only watched fields", l.Fields)
				}
				if !l.Seen["field:mx_Interest"].Equal(minute(1)) {
					t.Errorf("seen = %v, want the created values seen at the event time", l.Seen)
				}
			},
		},
		{
			name:  "lead created with an owner who has no LimeChat agent: ticket opened unassigned, unmatched_agent",
			event: created(KindLead, tSoloUser, 0, priya), outcome: OutcomeUnmatchedAgent, detail: []string{tSolo},
			// (The note saying why the ticket is unassigned comes with the
			// ticket: the create enqueues it, as there is no ticket yet.)
			actions: []Action{{Kind: ActCreateTicket, Key: "ticket", Payload: soloTicket}},
		},
		{
			name: "opportunity of a type not synced is ignored", event: created(KindOpportunity, tAshaUser, 999, nil),
			outcome: OutcomeIgnored, detail: []string{"opportunity type 999"},
			check: func(t *testing.T, d Decision) {
				if d.Link != nil {
					t.Errorf("an ignored record got a link: %+v", d.Link)
				}
			},
		},
		{
			name: "lead created while leads are not synced is ignored", event: created(KindLead, tAshaUser, 0, priya), rules: noLeads,
			outcome: OutcomeIgnored, detail: []string{"sync.leads"},
		},
	})
}

func TestDecideRecordsNeverLinkedAreUnlinked(t *testing.T) {
	t.Parallel()
	retired := leadLink()
	retired.State = LinkUnlinked
	runDecide(t, []decideCase{
		{name: "LeadSquared update of an unknown lead", event: lsqChange(KindLead, minute(11), map[string]string{"OwnerId": tRaviUser}),
			outcome: OutcomeUnlinked, detail: []string{"lead L1"}},
		{name: "LimeChat assignment on an unknown ticket", event: lcAssign(minute(11), 0, tRaviAgent),
			outcome: OutcomeUnlinked, detail: []string{"ticket 100"}},
		{name: "LimeChat label on an unknown ticket", event: lcLabels(minute(11), nil, []string{tTagCallback}),
			outcome: OutcomeUnlinked},
		{name: "a retired link", link: retired, event: lsqChange(KindLead, minute(11), map[string]string{"OwnerId": tRaviUser}),
			outcome: OutcomeUnlinked},
	})
}

func TestDecideOwnerAndAgentFollowEachOther(t *testing.T) {
	t.Parallel()
	ownerIs := func(email string) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			t.Helper()
			if d.Link.OwnerEmail != email {
				t.Errorf("link owner = %s, want %s", d.Link.OwnerEmail, email)
			}
		}
	}
	runDecide(t, []decideCase{
		{
			name: "owner changed in LeadSquared: assign the agent", link: leadLink(),
			event: lsqChange(KindLead, minute(11), map[string]string{"OwnerId": tRaviUser}), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActAssign, Key: "assign", Payload: AssignPayload{Email: tRavi, AgentID: tRaviAgent}}},
			check: func(t *testing.T, d Decision) {
				ownerIs(tRavi)(t, d)
				if !d.Link.OwnerChangedAt.Equal(minute(11)) {
					t.Errorf("owner changed at %v, want %v", d.Link.OwnerChangedAt, minute(11))
				}
			},
		},
		{
			name: "agent changed in LimeChat: set the owner", link: leadLink(), event: lcAssign(minute(11), tAshaAgent, tRaviAgent),
			outcome: OutcomeApplied,
			actions: []Action{{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: tRavi, UserID: tRaviUser}}},
			check:   ownerIs(tRavi),
		},
		{
			name: "LeadSquared owner with no LimeChat agent: unmatched, only a note for the agents", link: leadLink(),
			event:   lsqChange(KindLead, minute(11), map[string]string{"OwnerId": tSoloUser}),
			outcome: OutcomeUnmatchedAgent, detail: []string{tSolo}, check: ownerIs(tAsha),
			actions: []Action{noteAction("unmatched-owner:"+tSolo, noteOwnerWithoutAgent(KindLead, tSolo))},
		},
		{
			name:    "LeadSquared owner with no LimeChat agent on a link waiting for its ticket: no note (the create notes it)",
			link:    func() *Link { l := leadLink(); l.TicketID, l.State = 0, LinkPendingTicket; return l }(),
			event:   lsqChange(KindLead, minute(11), map[string]string{"OwnerId": tSoloUser}),
			outcome: OutcomeUnmatchedAgent, detail: []string{tSolo}, check: ownerIs(tAsha),
		},
		{
			name: "LeadSquared owner with no LimeChat agent, notes off: unmatched, nothing sent", link: leadLink(), rules: notesOff(),
			event:   lsqChange(KindLead, minute(11), map[string]string{"OwnerId": tSoloUser}),
			outcome: OutcomeUnmatchedAgent, detail: []string{tSolo}, check: ownerIs(tAsha),
		},
		{
			name: "LimeChat agent with no LeadSquared user: unmatched, only a note for the agents", link: leadLink(),
			event: lcAssign(minute(11), tAshaAgent, tLCOnlyAgent), outcome: OutcomeUnmatchedAgent, detail: []string{tLCOnly}, check: ownerIs(tAsha),
			actions: []Action{noteAction("unmatched-agent:"+tLCOnly, noteAgentWithoutUser(KindLead, tLCOnly, tAsha))},
		},
		{
			name: "LimeChat agent in no directory: unmatched naming the agent, a note", link: leadLink(),
			event: lcAssign(minute(11), tAshaAgent, 77), outcome: OutcomeUnmatchedAgent, detail: []string{"agent 77"}, check: ownerIs(tAsha),
			actions: []Action{noteAction("unmatched-agent:77", noteAgentUnknown(KindLead, 77, tAsha))},
		},
		{
			name: "owner change older than the last owner/agent change: stale, current owner written back to LeadSquared",
			link: leadLink(), event: lsqChange(KindLead, minute(5), map[string]string{"OwnerId": tRaviUser}),
			outcome: OutcomeStale, detail: []string{tRavi, "older"},
			actions: []Action{{Kind: ActSetOwner, Key: "owner-again", Payload: SetOwnerPayload{Email: tAsha, UserID: tAshaUser}}},
			check:   ownerIs(tAsha),
		},
		{
			name: "agent change older than the last owner/agent change: stale, current agent assigned again",
			link: leadLink(), event: lcAssign(minute(5), tAshaAgent, tRaviAgent),
			outcome: OutcomeStale, detail: []string{tRavi, "older"},
			actions: []Action{{Kind: ActAssign, Key: "assign-again", Payload: AssignPayload{Email: tAsha, AgentID: tAshaAgent}}},
			check:   ownerIs(tAsha),
		},
		{
			name: "unassigning the ticket keeps the owner", link: leadLink(), event: lcAssign(minute(11), tAshaAgent, 0),
			outcome: OutcomeEcho, check: ownerIs(tAsha),
		},
	})
}

func TestDecideEchoesAndStaleChangesDoNothing(t *testing.T) {
	t.Parallel()
	snapshot := Event{Source: SourceLeadSquared, Type: EventLeadUpdated, OccurredAt: minute(12),
		Record: &Record{Kind: KindLead, ID: tLeadID, LeadID: tLeadID, OwnerID: tAshaUser,
			Fields: map[string]string{"FirstName": "Priya", "Phone": tPhone, "ProspectStage": "New", "OwnerId": tAshaUser}}}
	labelled := leadLink()
	labelled.Labels = append(labelled.Labels, "interest-villa")
	newer := leadLink()
	newer.Seen["field:mx_Interest"] = minute(20)
	runDecide(t, []decideCase{
		{name: "LeadSquared snapshot equal to the link", link: leadLink(), event: snapshot, outcome: OutcomeEcho},
		{name: "LimeChat owner equal to the link", link: leadLink(), event: lcAssign(minute(12), 0, tAshaAgent), outcome: OutcomeEcho},
		{name: "LimeChat label the link has", link: labelled,
			event: lcLabels(minute(12), []string{"leadsquared"}, []string{"leadsquared", "interest-villa"}), outcome: OutcomeEcho},
		{
			name: "field change older than the newest change of that field: stale", link: newer,
			event:   lsqChange(KindLead, minute(15), map[string]string{"mx_Interest": "Villa"}),
			outcome: OutcomeStale, detail: []string{"field:mx_Interest"},
		},
		{
			name: "older event: its stale field is dropped, its other field still applies", link: newer,
			event:   lsqChange(KindLead, minute(15), map[string]string{"mx_Interest": "Villa", "ProspectStage": "Hot"}),
			outcome: OutcomeApplied,
			actions: []Action{{Kind: ActAddLabels, Key: "labels", Payload: AddLabelsPayload{Labels: []string{"hot-lead"}}}},
			check: func(t *testing.T, d Decision) {
				if d.Link.Fields["mx_Interest"] != "" || d.Link.Fields["ProspectStage"] != "Hot" {
					t.Errorf("fields = %v, want the stage applied and the interest not", d.Link.Fields)
				}
				if !d.Link.Seen["field:ProspectStage"].Equal(minute(15)) || !d.Link.Seen["field:mx_Interest"].Equal(minute(20)) {
					t.Errorf("seen = %v", d.Link.Seen)
				}
			},
		},
		{
			name: "label removed by an older event than the one that added it: kept", link: func() *Link {
				l := labelled.clone()
				l.Seen["label:interest-villa"] = minute(20)
				return l
			}(),
			event:   lcLabels(minute(15), []string{"leadsquared", "interest-villa"}, []string{"leadsquared"}),
			outcome: OutcomeStale, detail: []string{"label:interest-villa"},
		},
	})
}

func TestDecideOwnWriteLedgerTellsEchoesFromPeople(t *testing.T) {
	t.Parallel()
	// Our write of Ravi to LimeChat (previous agent Asha) was sent at
	// minute 11; meanwhile a person made Meera the LeadSquared owner.
	meeraNow := func() *Link {
		l := leadLink()
		l.OwnerEmail, l.OwnerChangedAt = tMeera, minute(12)
		l.Written[writtenAssignee] = Written{Marks: []WriteMark{{Value: tRavi, Sent: minute(11), Prev: "1"}}}
		return l
	}
	consumed := func(t *testing.T, d Decision) {
		t.Helper()
		m := d.Link.Written[writtenAssignee].Marks
		if len(m) != 1 || !m[0].Landed.Equal(minute(13)) {
			t.Errorf("marks = %+v, want the mark landed at the echo's time", m)
		}
		if d.Link.OwnerEmail != tMeera {
			t.Errorf("owner = %s, want Meera kept", d.Link.OwnerEmail)
		}
	}
	runDecide(t, []decideCase{
		{
			// Without the ledger this would look like a person choosing Ravi
			// after Meera, and overwrite Meera on both sides.
			name: "the echo of our write consumes its mark and changes nothing", link: meeraNow(),
			event: lcAssign(minute(13), tAshaAgent, tRaviAgent), outcome: OutcomeEcho, check: consumed,
		},
		{
			name: "a person's change to the same value from another previous agent is applied", link: meeraNow(),
			event: lcAssign(minute(13), tMeeraAgent, tRaviAgent), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: tRavi, UserID: tRaviUser}}},
			check: func(t *testing.T, d Decision) {
				if m := d.Link.Written[writtenAssignee].Marks; !m[0].Landed.IsZero() {
					t.Errorf("the person's change consumed our mark: %+v", m)
				}
			},
		},
	})

	t.Run("after the echo consumed the mark, the same change again is a person's", func(t *testing.T) {
		t.Parallel()
		first := decide(Input{Link: meeraNow(), Event: lcAssign(minute(13), tAshaAgent, tRaviAgent), Rules: testRules(), Agents: testPeople})
		if first.Outcome != OutcomeEcho {
			t.Fatalf("first outcome = %s", first.Outcome)
		}
		// The ticket went back to Asha, then a person picked Ravi again.
		second := decide(Input{Link: first.Link, Event: lcAssign(minute(14), tAshaAgent, tRaviAgent), Rules: testRules(), Agents: testPeople})
		want := []Action{{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: tRavi, UserID: tRaviUser}}}
		if second.Outcome != OutcomeApplied || !reflect.DeepEqual(second.Actions, want) {
			t.Errorf("second = %s %+v, want applied %+v", second.Outcome, second.Actions, want)
		}
	})

	runDecide(t, []decideCase{{
		// A person picked Meera in LimeChat at minute 12; our assignment of
		// Ravi, sent at 11, landed at 13, after it: LimeChat now shows Ravi,
		// so Meera is assigned again as well as made the owner.
		name: "a person's change our later write may have overwritten is written back",
		link: func() *Link {
			l := leadLink()
			l.Written[writtenAssignee] = Written{Marks: []WriteMark{{Value: tRavi, Sent: minute(11), Prev: "1", Landed: minute(13)}}}
			return l
		}(),
		event: lcAssign(minute(12), tAshaAgent, tMeeraAgent), outcome: OutcomeApplied,
		actions: []Action{
			{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: tMeera, UserID: tMeeraUser}},
			{Kind: ActAssign, Key: "assign-again", Payload: AssignPayload{Email: tMeera, AgentID: tMeeraAgent}},
		},
	}})
}

func TestDecideRulesFireOncePerRealTransition(t *testing.T) {
	t.Parallel()
	rules := testRules()
	villa := lsqChange(KindLead, minute(11), map[string]string{"mx_Interest": "Villa"})
	first := decide(Input{Link: leadLink(), Event: villa, Rules: rules, Agents: testPeople})
	wantTag := []Action{{Kind: ActAddLabels, Key: "labels", Payload: AddLabelsPayload{Labels: []string{"interest-villa"}}}}
	if first.Outcome != OutcomeApplied || !reflect.DeepEqual(first.Actions, wantTag) {
		t.Fatalf("field → tag: %s %+v, want %+v", first.Outcome, first.Actions, wantTag)
	}
	if !slices.Contains(first.Link.Labels, "interest-villa") {
		t.Errorf("link labels = %v, want the tag recorded", first.Link.Labels)
	}
	// The same save again (LeadSquared fires lead-updated on every save).
	again := decide(Input{Link: first.Link, Event: lsqChange(KindLead, minute(12), map[string]string{"mx_Interest": "Villa"}), Rules: rules, Agents: testPeople})
	if again.Outcome != OutcomeEcho || len(again.Actions) != 0 {
		t.Errorf("repeat: %s %+v, want echo and no action", again.Outcome, again.Actions)
	}
	// Another value, then Villa again: a real transition tags again only if
	// the ticket lost the tag meanwhile (it did not).
	other := decide(Input{Link: again.Link, Event: lsqChange(KindLead, minute(13), map[string]string{"mx_Interest": "Cottage"}), Rules: rules, Agents: testPeople})
	back := decide(Input{Link: other.Link, Event: lsqChange(KindLead, minute(14), map[string]string{"mx_Interest": "Villa"}), Rules: rules, Agents: testPeople})
	if len(other.Actions)+len(back.Actions) != 0 {
		t.Errorf("Villa → Cottage → Villa with the tag still on the ticket sent %+v %+v", other.Actions, back.Actions)
	}

	qualified := FlowEventPayload{Event: "lead_qualified", DistinctID: tLeadID, Phone: tFlowPhone,
		Data: map[string]any{"first_name": "Priya", "record_kind": "lead", "record_id": tLeadID}}
	won := FlowEventPayload{Event: "booking_confirmed", DistinctID: tLeadID, Phone: "",
		Data: map[string]any{"booking": "Goa holiday", "record_kind": "opportunity", "record_id": tOppID}}
	lost := oppLink()
	lost.Fields["Status"] = "Lost"
	runDecide(t, []decideCase{
		{
			name: "lead stage to Qualified sends its campaign", link: leadLink(),
			event: lsqChange(KindLead, minute(11), map[string]string{"ProspectStage": "Qualified"}), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActFlowEvent, Key: "flow:lead_qualified:ProspectStage=Qualified", Payload: qualified}},
		},
		{
			name: "opportunity status Open → Won sends its campaign with data", link: oppLink(),
			event: lsqChange(KindOpportunity, minute(11), map[string]string{"Status": "Won"}), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActFlowEvent, Key: "flow:booking_confirmed:Status=Won", Payload: won}},
		},
		{
			name: "opportunity status Lost → Won does not match from: Open", link: lost,
			event: lsqChange(KindOpportunity, minute(11), map[string]string{"Status": "Won"}), outcome: OutcomeApplied,
		},
		{
			name: "tag → field sets the field and tag → activity posts the note", link: leadLink(),
			event:   lcLabels(minute(11), []string{"leadsquared"}, []string{"leadsquared", tTagCallback, tTagQuote}),
			outcome: OutcomeApplied,
			actions: []Action{
				{Kind: ActPostActivity, Key: "activity:" + tTagQuote, Payload: PostActivityPayload{EventCode: 201, Note: tQuoteNote, Tag: tTagQuote}},
				{Kind: ActSetFields, Key: "fields", Payload: SetFieldsPayload{Fields: map[string]string{"mx_Callback_Requested": "Yes"}}},
			},
			check: func(t *testing.T, d Decision) {
				if d.Link.Fields["mx_Callback_Requested"] != "Yes" || !slices.Contains(d.Link.Labels, tTagCallback) {
					t.Errorf("link = fields %v labels %v", d.Link.Fields, d.Link.Labels)
				}
			},
		},
		{
			name: "a field set by a tag triggers that field's campaign", link: oppLink(),
			event:   lcLabels(minute(11), nil, []string{"booked"}),
			outcome: OutcomeApplied,
			actions: []Action{
				{Kind: ActSetFields, Key: "fields", Payload: SetFieldsPayload{Fields: map[string]string{"Status": "Won"}}},
				{Kind: ActFlowEvent, Key: "flow:booking_confirmed:Status=Won", Payload: won},
			},
		},
	})

	t.Run("a campaign fires once: the status saved again does nothing", func(t *testing.T) {
		t.Parallel()
		d := decide(Input{Link: oppLink(), Event: lsqChange(KindOpportunity, minute(11), map[string]string{"Status": "Won"}), Rules: testRules(), Agents: testPeople})
		again := decide(Input{Link: d.Link, Event: lsqChange(KindOpportunity, minute(12), map[string]string{"Status": "Won"}), Rules: testRules(), Agents: testPeople})
		if len(d.Actions) != 1 || len(again.Actions) != 0 || again.Outcome != OutcomeEcho {
			t.Errorf("first %+v, again %s %+v: want one flow event in all", d.Actions, again.Outcome, again.Actions)
		}
	})
}

func TestDecideLinkGates(t *testing.T) {
	t.Parallel()
	paused := leadLink()
	paused.Paused, paused.PausedReason = true, "loop fuse: 201 actions"
	pending := leadLink()
	pending.TicketID, pending.State = 0, LinkPendingTicket
	created := Event{Source: SourceLimeChat, Type: EventConversationCreated, OccurredAt: minute(11),
		Ticket: &Ticket{ID: tTicket, CustomAttributes: map[string]any{"lsq_record_id": tLeadID}}}
	runDecide(t, []decideCase{
		{name: "paused link: LeadSquared change", link: paused, event: lsqChange(KindLead, minute(11), map[string]string{"OwnerId": tRaviUser}),
			outcome: OutcomePaused, detail: []string{"loop fuse"}},
		{name: "paused link: LimeChat change", link: paused, event: lcAssign(minute(11), tAshaAgent, tRaviAgent), outcome: OutcomePaused},
		{
			name: "conversation_created for the linked ticket is our own create: echo, and the link learns its ticket",
			link: pending, event: created, outcome: OutcomeEcho,
			check: func(t *testing.T, d Decision) {
				if d.Link == nil || d.Link.TicketID != tTicket || !d.Link.LimeChatSeenAt.Equal(minute(11)) {
					t.Errorf("link = %+v, want ticket %d seen at %v", d.Link, tTicket, minute(11))
				}
			},
		},
		{name: "an event without a record id is rejected", link: nil,
			event: Event{Source: SourceLeadSquared, Type: EventLeadUpdated, Record: &Record{}}, outcome: OutcomeRejected},
	})
}

// TestDecideActionsOfOneEventHaveDistinctKeys: the outbox idempotency key is built from
// the event id and the action key, so one event's actions must have
// distinct keys or the second would be dropped as a repeat.
func TestDecideActionsOfOneEventHaveDistinctKeys(t *testing.T) {
	t.Parallel()
	d := decide(Input{Link: leadLink(), Rules: testRules(), Agents: testPeople,
		Event: lcLabels(minute(11), []string{"leadsquared"}, []string{"leadsquared", tTagCallback, tTagQuote, "interest-villa"})})
	keys := make([]string, 0, len(d.Actions))
	for _, a := range d.Actions {
		keys = append(keys, a.Key)
	}
	sort.Strings(keys)
	if len(slices.Compact(slices.Clone(keys))) != len(keys) || len(keys) == 0 {
		t.Errorf("action keys %v are not distinct", keys)
	}
}

// TestDecideLabelWriteRacingAPersonIsPutRight: the labels API replaces the
// whole list, so our read-union-write can undo a label change a person made
// between our read and our write. The echo of our write tells it: the
// person's change is kept in the link and put back on the ticket.
func TestDecideLabelWriteRacingAPersonIsPutRight(t *testing.T) {
	t.Parallel()
	// We read [leadsquared vip] at minute 11 and wrote [leadsquared vip interest-villa].
	racing := func(linkLabels ...string) *Link {
		l := leadLink()
		l.Labels = linkLabels
		l.Written[writtenLabels] = Written{Set: []string{"interest-villa", "leadsquared", "vip"}, HasSet: true,
			Marks: []WriteMark{{Value: joinSet([]string{"leadsquared", "vip", "interest-villa"}), Prev: joinSet([]string{"leadsquared", "vip"}), Sent: minute(11)}}}
		return l
	}
	runDecide(t, []decideCase{
		{
			// A person removed vip after our read: our write brought it back.
			name: "a label removed meanwhile is removed again", link: racing("leadsquared", "interest-villa"),
			event:   lcLabels(minute(12), []string{"leadsquared"}, []string{"leadsquared", "vip", "interest-villa"}),
			outcome: OutcomeApplied,
			actions: []Action{{Kind: ActRemoveLabels, Key: "race-remove", Payload: RemoveLabelsPayload{Labels: []string{"vip"}}}},
			check: func(t *testing.T, d Decision) {
				if slices.Contains(d.Link.Labels, "vip") {
					t.Errorf("link labels %v: the person's removal of vip was undone", d.Link.Labels)
				}
			},
		},
		{
			// A person added wants-callback after our read: our write dropped it.
			name: "a label added meanwhile is added again and its rules fire", link: racing("leadsquared", "vip", "interest-villa"),
			event:   lcLabels(minute(12), []string{"leadsquared", "vip", tTagCallback}, []string{"leadsquared", "vip", "interest-villa"}),
			outcome: OutcomeApplied,
			actions: []Action{
				{Kind: ActAddLabels, Key: "race-add", Payload: AddLabelsPayload{Labels: []string{tTagCallback}}},
				{Kind: ActSetFields, Key: "fields", Payload: SetFieldsPayload{Fields: map[string]string{"mx_Callback_Requested": "Yes"}}},
			},
		},
		{
			name: "the echo of a write nobody raced changes nothing", link: racing("leadsquared", "vip", "interest-villa"),
			event:   lcLabels(minute(12), []string{"leadsquared", "vip"}, []string{"leadsquared", "vip", "interest-villa"}),
			outcome: OutcomeEcho,
		},
	})
}

// TestDecideReconcileIsAThreeWayMerge: a reconcile read is compared with
// what each side was last known to hold. Only the side that changed is a
// person's change (even if the record's modification time is later than the
// other side's change, for an unrelated edit); a side that did not change
// but disagrees with the link gets the link's value written again; when both
// sides changed the same attribute, the later change wins.
func TestDecideReconcileIsAThreeWayMerge(t *testing.T) {
	t.Parallel()
	known := func() *Link {
		l := leadLink()
		l.Labels = []string{"leadsquared", "vip"}
		l.Fields["mx_Interest"] = "Villa"
		l.Written = map[string]Written{
			writtenOwner:                {Known: tAsha},
			writtenAssignee:             {Known: tAsha},
			writtenField("mx_Interest"): {Known: "Villa"},
			writtenLabels:               {Set: []string{"leadsquared", "vip"}, HasSet: true},
		}
		return l
	}
	lsqRead := func(when time.Time, owner, interest string) Event {
		return Event{Source: SourceLeadSquared, Type: EventReconcile, OccurredAt: when, Record: &Record{Kind: KindLead, ID: tLeadID,
			LeadID: tLeadID, OwnerID: owner, Fields: map[string]string{"mx_Interest": interest, "ProspectStage": "New"}}}
	}
	lcRead := func(when time.Time, agent int64, labels ...string) Event {
		return Event{Source: SourceLimeChat, Type: EventReconcile, OccurredAt: when, Ticket: &Ticket{ID: tTicket, AssigneeID: agent, Labels: labels}}
	}
	moved := func() *Link { // the link moved on; neither platform did
		l := known()
		l.OwnerEmail, l.Fields["mx_Interest"], l.Labels = tMeera, "Cottage", []string{"leadsquared", "vip", "hot-lead"}
		return l
	}
	runDecide(t, []decideCase{
		// One side changed: that side wins, whatever the record's time.
		{name: "owner changed in LeadSquared only", link: known(), event: lsqRead(minute(20), tRaviUser, "Villa"), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActAssign, Key: "assign", Payload: AssignPayload{Email: tRavi, AgentID: tRaviAgent}}}},
		{name: "agent changed in LimeChat only, record modified later for something else", link: known(),
			event: lsqRead(minute(30), tAshaUser, "Villa"), outcome: OutcomeEcho},
		{name: "agent changed in LimeChat only", link: known(), event: lcRead(minute(20), tRaviAgent, "leadsquared", "vip"), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: tRavi, UserID: tRaviUser}}}},
		{name: "field changed in LeadSquared only", link: known(), event: lsqRead(minute(20), tAshaUser, "Apartment"), outcome: OutcomeApplied,
			check: func(t *testing.T, d Decision) {
				if d.Link.Fields["mx_Interest"] != "Apartment" {
					t.Errorf("link field %q, want LeadSquared's change", d.Link.Fields["mx_Interest"])
				}
			}},
		{name: "label added in LimeChat only", link: known(), event: lcRead(minute(20), tAshaAgent, "leadsquared", "vip", tTagQuote), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActPostActivity, Key: "activity:" + tTagQuote, Payload: PostActivityPayload{EventCode: 201, Note: tQuoteNote, Tag: tTagQuote}}}},
		{name: "label removed in LimeChat only", link: known(), event: lcRead(minute(20), tAshaAgent, "leadsquared"), outcome: OutcomeApplied,
			check: func(t *testing.T, d Decision) {
				if slices.Contains(d.Link.Labels, "vip") {
					t.Errorf("link labels %v, want vip removed", d.Link.Labels)
				}
			}},
		// Neither side changed but the link moved on: write the link's value.
		{name: "owner: LeadSquared unchanged, link moved on", link: moved(), event: lsqRead(minute(20), tAshaUser, "Villa"), outcome: OutcomeApplied,
			actions: []Action{
				{Kind: ActSetOwner, Key: "owner-again", Payload: SetOwnerPayload{Email: tMeera, UserID: tMeeraUser}},
				{Kind: ActSetFields, Key: "repair-fields", Payload: SetFieldsPayload{Fields: map[string]string{"mx_Interest": "Cottage"}}},
			}},
		{name: "agent and labels: LimeChat unchanged, link moved on", link: moved(), event: lcRead(minute(20), tAshaAgent, "leadsquared", "vip"), outcome: OutcomeApplied,
			actions: []Action{
				{Kind: ActAssign, Key: "assign-again", Payload: AssignPayload{Email: tMeera, AgentID: tMeeraAgent}},
				{Kind: ActAddLabels, Key: "repair-labels", Payload: AddLabelsPayload{Labels: []string{"hot-lead"}}},
			}},
		// Both sides changed the owner: the later change wins, the other side follows.
		{name: "owner changed on both sides, LimeChat later", link: func() *Link {
			l := known()
			// LeadSquared's change to Ravi (minute 15) was applied; LimeChat then moved to Meera at minute 18.
			l.OwnerEmail, l.OwnerChangedAt = tRavi, minute(15)
			l.Written[writtenOwner] = Written{Known: tRavi}
			return l
		}(), event: lcRead(minute(18), tMeeraAgent, "leadsquared", "vip"), outcome: OutcomeApplied,
			actions: []Action{{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: tMeera, UserID: tMeeraUser}}}},
		{name: "owner changed on both sides, LeadSquared later", link: func() *Link {
			l := known()
			l.OwnerEmail, l.OwnerChangedAt = tRavi, minute(18)
			l.Written[writtenOwner] = Written{Known: tRavi}
			return l
		}(), event: lcRead(minute(15), tMeeraAgent, "leadsquared", "vip"), outcome: OutcomeStale,
			actions: []Action{{Kind: ActAssign, Key: "assign-again", Payload: AssignPayload{Email: tRavi, AgentID: tRaviAgent}}}},
	})
}
