package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/service"
)

// cmdUAT runs the scope's acceptance checklist against a running lsqbridge:
// the sandbox's demo integration by default, or any configured integration
// (it then creates test leads named "UAT …" in the real LeadSquared). It acts
// as a person through the platforms' own APIs, so the webhooks fire exactly
// as for a person, and waits for lsqbridge to make the other side follow.
func cmdUAT(e *env, args []string) error {
	fs := e.flagSet("uat")
	e.cfg.bindDB(fs)
	id := fs.String("integration", "demo", "integration to check (the sandbox's is demo)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long each check may wait")
	allowSkip := fs.Bool("allow-skip", false, "succeed even when a check cannot run (the integration has no rule for it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, integrations, err := e.openIntegrations()
	if err != nil {
		return err
	}
	defer pool.Close()
	in, err := integrations.Get(e.ctx, *id)
	if err != nil {
		return err
	}
	u := &uat{ctx: e.ctx, pool: pool, in: in, timeout: *timeout, progress: e.progress(),
		lsq: leadsquared.New(leadsquared.Config{BaseURL: in.LeadSquaredURL, AccessKey: in.LeadSquaredAccessKey, SecretKey: in.LeadSquaredSecretKey,
			HTTPClient: outboundClient(e.cfg.AllowLoopback)})}
	u.c = newPlatforms(e.cfg.AllowLoopback).For(in)
	results := u.run()

	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tDETAIL")
	passed, failed, skipped := 0, 0, 0
	for _, r := range results {
		status := "PASS"
		switch {
		case r.skipped:
			status, skipped = "SKIP", skipped+1
		case r.err != nil:
			status, failed = "FAIL", failed+1
		default:
			passed++
		}
		detail := r.detail
		if r.err != nil {
			detail = r.err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name, status, r.took.Round(time.Millisecond), detail)
	}
	_ = tw.Flush()
	if skipped > 0 {
		fmt.Fprintf(e.stdout, "uat: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	} else {
		fmt.Fprintf(e.stdout, "uat: %d passed, %d failed\n", passed, failed)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(results))
	}
	if skipped > 0 && !*allowSkip {
		return fmt.Errorf("%d of %d checks could not run: the integration has no rule for them (pass --allow-skip to accept)", skipped, len(results))
	}
	return nil
}

type uatResult struct {
	name    string
	took    time.Duration
	detail  string
	err     error
	skipped bool
}

type uat struct {
	ctx      context.Context
	pool     *pgxpool.Pool
	in       *service.Integration
	c        service.Clients
	lsq      *leadsquared.Client
	timeout  time.Duration
	progress io.Writer

	a, b   service.Agent
	lead   string
	ticket int64
}

func (u *uat) run() []uatResult {
	checks := []struct {
		name string
		fn   func() (string, error)
	}{
		{"create → ticket", u.createToTicket},
		{"owner → agent and back", u.ownerBothWays},
		{"field → tag", u.fieldToTag},
		{"tag → field/activity", u.tagToFieldOrActivity},
		{"stage → message", u.stageToMessage},
	}
	var out []uatResult
	for i, c := range checks {
		fmt.Fprintf(u.progress, "[%d/%d] %s …\n", i+1, len(checks), c.name)
		start := time.Now()
		detail, err := c.fn()
		r := uatResult{name: c.name, took: time.Since(start), detail: detail, err: err}
		if errors.Is(err, errSkip) {
			r.err, r.skipped = nil, true
		}
		out = append(out, r)
		if err != nil && i == 0 {
			// Nothing else can run without the ticket.
			for _, rest := range checks[1:] {
				out = append(out, uatResult{name: rest.name, err: errors.New("not run: no ticket")})
			}
			break
		}
	}
	return out
}

var errSkip = errors.New("skip")

// waitFor polls cond until it holds or the check's time runs out, telling
// the person at the terminal what it is waiting for.
func (u *uat) waitFor(what string, cond func() (bool, error)) error {
	start := time.Now()
	deadline := start.Add(u.timeout)
	lastSaid := start
	for {
		ok, err := cond()
		if err != nil && !errors.Is(err, service.ErrNotFound) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s waiting for %s", u.timeout, what)
		}
		if time.Since(lastSaid) > 2*time.Second {
			fmt.Fprintf(u.progress, "      still waiting for %s (%s)\n", what, time.Since(start).Round(100*time.Millisecond))
			lastSaid = time.Now()
		}
		select {
		case <-u.ctx.Done():
			return u.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// people picks two people present on both platforms.
func (u *uat) people() error {
	rows, err := u.pool.Query(u.ctx, `SELECT email, lsq_user_id, limechat_agent_id FROM agents
		WHERE integration_id = $1 AND lsq_active AND limechat_active AND lsq_user_id IS NOT NULL AND limechat_agent_id IS NOT NULL
		ORDER BY email LIMIT 2`, u.in.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ps []service.Agent
	for rows.Next() {
		var a service.Agent
		if err := rows.Scan(&a.Email, &a.LeadSquaredUserID, &a.LimeChatAgentID); err != nil {
			return err
		}
		ps = append(ps, a)
	}
	if len(ps) < 2 {
		return errors.New("the agent directory needs two people on both platforms (run `lsqbridge agents refresh " + u.in.ID + "`)")
	}
	u.a, u.b = ps[0], ps[1]
	return nil
}

func (u *uat) createToTicket() (string, error) {
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
	u.lead = id
	err = u.waitFor("the ticket", func() (bool, error) {
		ts, err := u.c.LimeChat.FindConversationsByAttribute(u.ctx, "lsq_record_id", id)
		if err != nil || len(ts) == 0 {
			return false, err
		}
		u.ticket = ts[0].ID
		t, err := u.c.LimeChat.GetConversation(u.ctx, ts[0].ID)
		return err == nil && t.AssigneeID == u.a.LimeChatAgentID, err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("lead %s → ticket %d assigned to %s", id, u.ticket, u.a.Email), nil
}

func (u *uat) ownerBothWays() (string, error) {
	if err := u.lsq.UpdateLeadAsPerson(u.ctx, u.lead, map[string]string{"OwnerId": u.b.LeadSquaredUserID}); err != nil {
		return "", fmt.Errorf("change the owner: %w", err)
	}
	err := u.waitFor("the agent to follow the owner", func() (bool, error) {
		t, err := u.c.LimeChat.GetConversation(u.ctx, u.ticket)
		return err == nil && t.AssigneeID == u.b.LimeChatAgentID, err
	})
	if err != nil {
		return "", err
	}
	if err := u.c.LimeChat.Assign(u.ctx, u.ticket, u.a.LimeChatAgentID); err != nil {
		return "", fmt.Errorf("assign the ticket: %w", err)
	}
	err = u.waitFor("the owner to follow the agent", func() (bool, error) {
		l, err := u.c.LeadSquared.GetLead(u.ctx, u.lead)
		return err == nil && l.OwnerID == u.a.LeadSquaredUserID, err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("owner %s → agent; agent %s → owner", u.b.Email, u.a.Email), nil
}

func (u *uat) hasLabel(tag string) (bool, error) {
	ls, err := u.c.LimeChat.Labels(u.ctx, u.ticket)
	return slices.Contains(ls, tag), err
}

func (u *uat) fieldToTag() (string, error) {
	for _, r := range u.in.Rules.FieldTags {
		if r.Record != "" && r.Record != service.KindLead {
			continue
		}
		value := r.Value
		if value == "" {
			value = "uat"
		}
		if err := u.lsq.UpdateLeadAsPerson(u.ctx, u.lead, map[string]string{r.Field: value}); err != nil {
			return "", fmt.Errorf("set %s: %w", r.Field, err)
		}
		if err := u.waitFor("tag "+r.Tag, func() (bool, error) { return u.hasLabel(r.Tag) }); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s=%s → tag %s", r.Field, value, r.Tag), nil
	}
	return "no field_tags rule for leads", errSkip
}

func (u *uat) tagToFieldOrActivity() (string, error) {
	var done []string
	addTag := func(tag string) error {
		cur, err := u.c.LimeChat.Labels(u.ctx, u.ticket)
		if err != nil {
			return err
		}
		if !slices.Contains(cur, tag) {
			_, err = u.c.LimeChat.SetLabels(u.ctx, u.ticket, append(cur, tag))
		}
		return err
	}
	for _, r := range u.in.Rules.TagFields {
		if r.Record != "" && r.Record != service.KindLead {
			continue
		}
		if err := addTag(r.Tag); err != nil {
			return "", fmt.Errorf("tag the ticket: %w", err)
		}
		err := u.waitFor("the fields tag "+r.Tag+" sets", func() (bool, error) {
			l, err := u.c.LeadSquared.GetLead(u.ctx, u.lead)
			if err != nil {
				return false, err
			}
			for f, v := range r.Set {
				if l.Field(f) != v {
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
		if r.Record != "" && r.Record != service.KindLead {
			continue
		}
		if err := addTag(r.Tag); err != nil {
			return "", fmt.Errorf("tag the ticket: %w", err)
		}
		err := u.waitFor("the activity tag "+r.Tag+" posts", func() (bool, error) {
			acts, err := u.c.LeadSquared.LeadActivities(u.ctx, u.lead, r.ActivityEvent)
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
		return "no tag_fields or tag_activities rule", errSkip
	}
	return strings.Join(done, "; "), nil
}

func (u *uat) stageToMessage() (string, error) {
	for _, r := range u.in.Rules.Campaigns {
		if r.Record != service.KindLead {
			continue
		}
		if r.From != "" {
			if err := u.lsq.UpdateLeadAsPerson(u.ctx, u.lead, map[string]string{r.Field: r.From}); err != nil {
				return "", err
			}
		}
		if err := u.lsq.UpdateLeadAsPerson(u.ctx, u.lead, map[string]string{r.Field: r.To}); err != nil {
			return "", fmt.Errorf("set %s: %w", r.Field, err)
		}
		var n int
		err := u.waitFor("the Flow-builder event "+r.Event, func() (bool, error) {
			err := u.pool.QueryRow(u.ctx, `SELECT count(*) FROM outbox o JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
				WHERE o.integration_id = $1 AND l.record_id = $2 AND o.kind = 'limechat.flow_event' AND o.status = 'delivered'
				  AND o.payload->>'event' = $3`, u.in.ID, u.lead, r.Event).Scan(&n)
			return n > 0, err
		})
		if err != nil {
			return "", err
		}
		if n != 1 {
			return "", fmt.Errorf("%d %s events delivered, want exactly 1", n, r.Event)
		}
		return fmt.Sprintf("%s=%s → one %s event delivered", r.Field, r.To, r.Event), nil
	}
	return "no campaign rule for leads", errSkip
}
