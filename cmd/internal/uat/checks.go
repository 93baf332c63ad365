package uat

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// people picks two people present and active on both platforms, the first
// two by e-mail.
func (u *uat) people() error {
	list, err := service.NewAgentDirectory(u.pool, nil, nil, nil, 0).List(u.ctx, u.in.ID)
	if err != nil {
		return err
	}
	var ps []service.Agent
	for _, e := range list {
		if e.LeadSquaredActive && e.LimeChatActive && e.LeadSquaredUserID != "" && e.LimeChatAgentID != 0 {
			ps = append(ps, service.Agent{Email: e.Email, LeadSquaredUserID: e.LeadSquaredUserID, LimeChatAgentID: e.LimeChatAgentID})
		}
	}
	if len(ps) < 2 {
		return errors.New("the agent directory needs two people on both platforms (run `lsqbridge agents refresh " + u.in.ID + "`)")
	}
	u.a, u.b = ps[0], ps[1]
	return nil
}

// waitTicket waits for the record's ticket, assigned to a's agent.
func (u *uat) waitTicket(s *subject) error {
	return u.waitFor("the ticket", func() (bool, error) {
		ts, err := u.c.LimeChat.FindConversationsByAttribute(u.ctx, "lsq_record_id", s.id)
		if err != nil || len(ts) == 0 {
			return false, err
		}
		s.ticket = ts[0].ID
		t, err := u.c.LimeChat.GetConversation(u.ctx, ts[0].ID)
		return err == nil && t.AssigneeID == u.a.LimeChatAgentID, err
	})
}

func (u *uat) createToTicket(s *subject) (string, error) {
	if err := u.people(); err != nil {
		return "", err
	}
	if !u.in.Rules.Sync.Leads {
		return "", errors.New("this integration does not sync leads (sync.leads is false)")
	}
	stamp := time.Now().UTC().Format("20060102150405")
	nano := fmt.Sprintf("%09d", time.Now().UnixNano()%1_000_000_000)
	id, err := u.lsq.CreateLead(u.ctx, map[string]string{
		"FirstName": "UAT", "LastName": stamp, "EmailAddress": "uat+" + stamp + nano + "@example.com",
		"Phone": "+91-9" + nano, "OwnerId": u.a.LeadSquaredUserID,
	})
	if err != nil {
		return "", fmt.Errorf("create a test lead: %w", err)
	}
	s.id = id
	if err := u.waitTicket(s); err != nil {
		return "", err
	}
	return fmt.Sprintf("lead %s → ticket %d assigned to %s", id, s.ticket, u.a.Email), nil
}

// opportunityType is the type of the UAT opportunity.
func (u *uat) opportunityType() int {
	if len(u.in.Rules.Sync.OpportunityTypes) > 0 {
		return u.in.Rules.Sync.OpportunityTypes[0]
	}
	return u.in.Rules.Form.OpportunityType
}

// createOpportunity captures an opportunity on the UAT lead, owned by a,
// with a value for every field its type requires.
func (u *uat) createOpportunity(s *subject) (string, error) {
	if !u.in.Rules.Sync.Opportunities {
		return "this integration does not sync opportunities (sync.opportunities is false)", errSkip
	}
	typ := u.opportunityType()
	if typ == 0 {
		return "no opportunity type to create (set sync.opportunity_types or form.opportunity_type)", errSkip
	}
	meta, err := u.lsq.OpportunityTypeMetadata(u.ctx, typ)
	if err != nil {
		return "", fmt.Errorf("read opportunity type %d: %w", typ, err)
	}
	fields := uatOpportunityFields(meta, "UAT "+time.Now().UTC().Format("20060102150405"))
	fields["Owner"] = u.a.LeadSquaredUserID
	res, err := u.lsq.CaptureOpportunity(u.ctx, service.OpportunityCapture{LeadID: u.lead.id, TypeCode: typ, Fields: fields})
	if err != nil {
		return "", fmt.Errorf("create a test opportunity: %w", err)
	}
	s.id = res.OpportunityID
	if err := u.waitTicket(s); err != nil {
		return "", err
	}
	return fmt.Sprintf("opportunity %s → ticket %d assigned to %s", s.id, s.ticket, u.a.Email), nil
}

// uatOpportunityFields gives every required field of an opportunity type a
// value of its type: Status Open, a Stage allowed with it, today for dates.
func uatOpportunityFields(meta []service.FieldMeta, name string) map[string]string {
	out := map[string]string{"Status": "Open"}
	for _, m := range meta {
		if !m.Required || m.ReadOnly || out[m.SchemaName] != "" || m.SchemaName == "Owner" {
			continue
		}
		opts := m.Options
		if m.ParentField != "" {
			opts = m.OptionsByParent[out[m.ParentField]]
		}
		switch m.DataType {
		case "Select", "MultiSelect":
			if len(opts) > 0 {
				out[m.SchemaName] = opts[0]
			}
		case "Date":
			out[m.SchemaName] = time.Now().UTC().Format("2006-01-02")
		case "DateTime":
			out[m.SchemaName] = time.Now().UTC().Format("2006-01-02 15:04:05")
		case "Number":
			out[m.SchemaName] = "1"
		case "Email":
			out[m.SchemaName] = "uat@example.com"
		case "Boolean":
			out[m.SchemaName] = "false"
		default:
			out[m.SchemaName] = name
		}
	}
	return out
}

// set changes fields of the record as a person would (LeadSquared fires its
// webhooks: a lead update with postUpdatedLead, an opportunity update always).
func (u *uat) set(s *subject, fields map[string]string) error {
	if s.kind == service.KindOpportunity {
		return u.lsq.UpdateOpportunity(u.ctx, s.id, fields)
	}
	return u.lsq.UpdateLeadAsPerson(u.ctx, s.id, fields)
}

// get reads the record.
func (u *uat) get(s *subject) (service.Record, error) {
	if s.kind == service.KindOpportunity {
		return u.c.LeadSquared.GetOpportunity(u.ctx, s.id)
	}
	return u.c.LeadSquared.GetLead(u.ctx, s.id)
}

func (u *uat) ownerBothWays(s *subject) (string, error) {
	owner := "OwnerId"
	if s.kind == service.KindOpportunity {
		owner = "Owner"
	}
	if err := u.set(s, map[string]string{owner: u.b.LeadSquaredUserID}); err != nil {
		return "", fmt.Errorf("change the owner: %w", err)
	}
	err := u.waitFor("the agent to follow the owner", func() (bool, error) {
		t, err := u.c.LimeChat.GetConversation(u.ctx, s.ticket)
		return err == nil && t.AssigneeID == u.b.LimeChatAgentID, err
	})
	if err != nil {
		return "", err
	}
	if err := u.c.LimeChat.Assign(u.ctx, s.ticket, u.a.LimeChatAgentID); err != nil {
		return "", fmt.Errorf("assign the ticket: %w", err)
	}
	err = u.waitFor("the owner to follow the agent", func() (bool, error) {
		r, err := u.get(s)
		return err == nil && r.OwnerID == u.a.LeadSquaredUserID, err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("owner %s → agent; agent %s → owner", u.b.Email, u.a.Email), nil
}

func (u *uat) hasLabel(s *subject, tag string) (bool, error) {
	ls, err := u.c.LimeChat.Labels(u.ctx, s.ticket)
	return slices.Contains(ls, tag), err
}

// forKind reports whether a rule of kind r applies to records of kind k (a
// rule without a kind predates kinds and applies to both).
func forKind(r, k service.RecordKind) bool { return r == "" || r == k }

func (u *uat) fieldToTag(s *subject) (string, error) {
	for _, r := range u.in.Rules.FieldTags {
		if !forKind(r.Record, s.kind) {
			continue
		}
		value := cmp.Or(r.Value, "uat")
		if err := u.set(s, map[string]string{r.Field: value}); err != nil {
			return "", fmt.Errorf("set %s: %w", r.Field, err)
		}
		if err := u.waitFor("tag "+r.Tag, func() (bool, error) { return u.hasLabel(s, r.Tag) }); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s=%s → tag %s", r.Field, value, r.Tag), nil
	}
	return "no field_tags rule for " + string(s.kind) + "s", errSkip
}

func (u *uat) tagToFieldOrActivity(s *subject) (string, error) {
	var done []string
	addTag := func(tag string) error {
		cur, err := u.c.LimeChat.Labels(u.ctx, s.ticket)
		if err != nil {
			return err
		}
		if !slices.Contains(cur, tag) {
			_, err = u.c.LimeChat.SetLabels(u.ctx, s.ticket, append(cur, tag))
		}
		return err
	}
	for _, r := range u.in.Rules.TagFields {
		if !forKind(r.Record, s.kind) {
			continue
		}
		if err := addTag(r.Tag); err != nil {
			return "", fmt.Errorf("tag the ticket: %w", err)
		}
		err := u.waitFor("the fields tag "+r.Tag+" sets", func() (bool, error) {
			rec, err := u.get(s)
			if err != nil {
				return false, err
			}
			for f, v := range r.Set {
				if rec.Field(f) != v {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return "", err
		}
		done = append(done, "tag "+r.Tag+" → fields")
		break
	}
	for _, r := range u.in.Rules.TagNotes {
		if !forKind(r.Record, s.kind) {
			continue
		}
		if err := addTag(r.Tag); err != nil {
			return "", fmt.Errorf("tag the ticket: %w", err)
		}
		// A lead's activities include those posted on its opportunities.
		err := u.waitFor("the activity tag "+r.Tag+" posts", func() (bool, error) {
			acts, err := u.c.LeadSquared.LeadActivities(u.ctx, u.lead.id, r.ActivityEvent)
			for _, a := range acts {
				if strings.Contains(a.Note, r.Note) {
					return true, nil
				}
			}
			return false, err
		})
		if err != nil {
			return "", err
		}
		done = append(done, "tag "+r.Tag+" → activity")
		break
	}
	if len(done) == 0 {
		return "no tag_fields or tag_activities rule for " + string(s.kind) + "s", errSkip
	}
	return strings.Join(done, "; "), nil
}

func (u *uat) stageToMessage(s *subject) (string, error) {
	for _, r := range u.in.Rules.Campaigns {
		if r.Record != s.kind {
			continue
		}
		if r.From != "" {
			if err := u.set(s, map[string]string{r.Field: r.From}); err != nil {
				return "", err
			}
		}
		if err := u.set(s, map[string]string{r.Field: r.To}); err != nil {
			return "", fmt.Errorf("set %s: %w", r.Field, err)
		}
		return u.oneFlowEvent(s, r)
	}
	return "no campaign rule for " + string(s.kind) + "s", errSkip
}

// oneFlowEvent waits until Flow-builder received the campaign's event for
// the record and lsqbridge has nothing more to send for it, then checks it
// received exactly one. Flow-builder is asked itself where it can be (the
// sandbox's fake lists what it received at /_person/flow-events); a real
// Flow-builder lists nothing, so there the check counts what lsqbridge
// delivered and says so.
func (u *uat) oneFlowEvent(s *subject, r service.CampaignRule) (string, error) {
	_, askable := u.flowEvents()
	// counts says how many of the campaign's events for the record
	// Flow-builder received (or, where it cannot say, lsqbridge delivered),
	// and how many of the record's Flow-builder events are still to send.
	counts := func() (received, open int, err error) {
		delivered, open, err := service.FlowEventCounts(u.ctx, u.pool, u.in.ID, s.kind, s.id, r.Event)
		if err != nil || !askable {
			return delivered, open, err
		}
		evs, _ := u.flowEvents()
		for _, ev := range evs {
			if ev.Event == r.Event && fmt.Sprint(ev.Data["record_id"]) == s.id {
				received++
			}
		}
		return received, open, nil
	}
	var n int
	err := u.waitFor("the Flow-builder event "+r.Event, func() (bool, error) {
		// Received; and nothing more to send for this record's campaigns.
		var open int
		var err error
		n, open, err = counts()
		return err == nil && n > 0 && open == 0, err
	})
	if err != nil {
		return "", err
	}
	if n, _, err = counts(); err != nil {
		return "", err
	}
	if n != 1 {
		return "", fmt.Errorf("%d %s events for %s %s, want exactly 1", n, r.Event, s.kind, s.id)
	}
	where := "received by Flow-builder"
	if !askable {
		where = "delivered by lsqbridge (Flow-builder cannot be asked what it received)"
	}
	return fmt.Sprintf("%s=%s → one %s event %s", r.Field, r.To, r.Event, where), nil
}

// flowEvents lists what Flow-builder received, when it can say (the
// sandbox's fake: GET /_person/flow-events); ok is false otherwise.
func (u *uat) flowEvents() ([]service.FlowEvent, bool) {
	if u.in.FlowBuilderURL == "" {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(u.in.FlowBuilderURL, "/")+"/_person/flow-events", nil)
	if err != nil {
		return nil, false
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var evs []service.FlowEvent
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&evs) != nil {
		return nil, false
	}
	return evs, true
}
