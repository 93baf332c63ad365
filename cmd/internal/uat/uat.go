// Package uat runs the scope's acceptance checklist against a running
// lsqbridge (`lsqbridge uat`, `make uat`): the sandbox's demo integration, or
// any configured integration, where it creates a test lead named "UAT …"
// and an opportunity on it in the real LeadSquared. It acts as a person
// through the platforms' own APIs, so the webhooks fire exactly as for a
// person, and waits for lsqbridge to make the other side follow. Each of the
// five checks runs for a lead and for an opportunity.
package uat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/service"
)

// Options tune a run.
type Options struct {
	// Timeout is how long each check may wait.
	Timeout time.Duration
	// AllowSkip makes a run whose checks could not all run (the
	// integration has no rule for them) succeed.
	AllowSkip bool
	// AllowLoopback lets the platform clients reach loopback addresses
	// (the sandbox's fakes).
	AllowLoopback bool
	// Progress receives a line per check begun and while one waits (nil:
	// none).
	Progress io.Writer
}

// Run runs the checklist against integration in, writes its table and a
// summary line to w, and fails when a check failed or, unless
// o.AllowSkip, could not run. pool is lsqbridge's database: the agent
// directory picks the people, and the outbox says what lsqbridge delivered
// where Flow-builder cannot be asked.
func Run(ctx context.Context, w io.Writer, pool *pgxpool.Pool, in *service.Integration, o Options) error {
	hc := app.OutboundClient(o.AllowLoopback)
	u := &uat{ctx: ctx, pool: pool, in: in, timeout: o.Timeout, progress: cmp.Or[io.Writer](o.Progress, io.Discard), hc: hc,
		lsq: leadsquared.New(leadsquared.Config{BaseURL: in.LeadSquaredURL, AccessKey: in.LeadSquaredAccessKey, SecretKey: in.LeadSquaredSecretKey,
			HTTPClient: hc})}
	u.c = app.NewPlatforms(o.AllowLoopback).For(in)
	results := u.run()

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
		fmt.Fprintf(w, "uat: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	} else {
		fmt.Fprintf(w, "uat: %d passed, %d failed\n", passed, failed)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(results))
	}
	if skipped > 0 && !o.AllowSkip {
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

// subject is the record a group of checks is about: the UAT lead, or the
// UAT opportunity on it.
type subject struct {
	kind   service.RecordKind
	id     string
	ticket int64
}

type uat struct {
	ctx      context.Context
	pool     *pgxpool.Pool
	in       *service.Integration
	c        service.Clients
	lsq      *leadsquared.Client
	hc       *http.Client
	timeout  time.Duration
	progress io.Writer

	a, b service.Agent
	lead subject
	opp  subject
}

// uatCheck is one line of the table.
type uatCheck struct {
	name string
	fn   func() (string, error)
}

// checks are the five checks for one kind of record.
func (u *uat) checks(s *subject) []uatCheck {
	k := string(s.kind) + ": "
	create := func() (string, error) { return u.createToTicket(s) }
	if s.kind == service.KindOpportunity {
		create = func() (string, error) { return u.createOpportunity(s) }
	}
	return []uatCheck{
		{k + "create → ticket", create},
		{k + "owner → agent and back", func() (string, error) { return u.ownerBothWays(s) }},
		{k + "field → tag", func() (string, error) { return u.fieldToTag(s) }},
		{k + "tag → field/activity", func() (string, error) { return u.tagToFieldOrActivity(s) }},
		{k + "stage → message", func() (string, error) { return u.stageToMessage(s) }},
	}
}

func (u *uat) run() []uatResult {
	u.lead.kind, u.opp.kind = service.KindLead, service.KindOpportunity
	checks := append(u.checks(&u.lead), u.checks(&u.opp)...)
	var out []uatResult
	for i := 0; i < len(checks); i++ {
		c := checks[i]
		fmt.Fprintf(u.progress, "[%d/%d] %s …\n", i+1, len(checks), c.name)
		start := time.Now()
		detail, err := c.fn()
		r := uatResult{name: c.name, took: time.Since(start), detail: detail, err: err}
		if errors.Is(err, errSkip) {
			r.err, r.skipped = nil, true
		}
		out = append(out, r)
		if i%5 != 0 || (r.err == nil && !r.skipped) {
			continue
		}
		// A create that did not happen: nothing else of its group can run
		// without the ticket (and the opportunity is captured on the lead).
		end := 5
		if i == 0 {
			end = len(checks)
		}
		for _, rest := range checks[i+1 : i+end] {
			if r.skipped {
				out = append(out, uatResult{name: rest.name, skipped: true, detail: "not run: " + detail})
			} else {
				out = append(out, uatResult{name: rest.name, err: errors.New("not run: no ticket")})
			}
		}
		i += end - 1
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
