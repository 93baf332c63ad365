package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db"
)

// World is what a bench runs on: the settings, a pool on a migrated
// scratch database (the benches replace the sandbox's demo integration and
// their own), and the progress display.
type World struct {
	Config   app.Config
	Pool     *pgxpool.Pool
	Progress Progress
}

func (w *World) progress() Progress { return progressOr(w.Progress) }

// Report is a bench's result.
type Report interface {
	Print(Output) error
}

// scene is the sandbox (lsqbridge and both fakes, in this process) with
// leads that have their tickets: the links the webhooks are about.
type scene struct {
	s       *sandbox.Sandbox
	pool    *pgxpool.Pool
	leads   []string // lead ids
	tickets []int64  // each lead's ticket
	owners  []string // LeadSquared users with a LimeChat agent
	agents  []int64  // their agents, in the same order
	client  *http.Client
	created atomic.Int64 // leads the mix created
}

// sandboxOptions are the sandbox's settings in every bench: LimeChat's
// webhooks signed, as a production integration's are.
func sandboxOptions() sandbox.Options { return sandbox.Options{Signed: true} }

// start starts the sandbox and gives it n leads with tickets. With relay
// the service's relay runs (as in serve); without, the scene drains it.
func (w *World) start(ctx context.Context, n int, relay bool, o sandbox.Options) (*scene, error) {
	p := w.progress()
	if err := sandbox.Reset(ctx, w.Pool); err != nil {
		return nil, err
	}
	o.WebhookMillis = true
	o.App.NoRelay = !relay
	s, err := sandbox.Start(ctx, w.Config, w.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)), o)
	if err != nil {
		return nil, err
	}
	sc := &scene{s: s, pool: w.Pool, client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}}
	for _, email := range []string{"asha@acme.test", "ravi@acme.test", "meera@acme.test"} {
		sc.owners = append(sc.owners, s.Users[email].ID)
		agent, err := strconv.ParseInt(s.Agents[email].ID, 10, 64)
		if err != nil {
			sc.Close()
			return nil, fmt.Errorf("agent %s: %w", email, err)
		}
		sc.agents = append(sc.agents, agent)
	}
	s.LSQHooks.SetWorkers(8)
	s.LCHooks.SetWorkers(8)
	p.Step("setup: %d leads, each with its ticket…", n)
	for i := range n {
		if _, err := s.LSQ.CreateLead(leadFields(i, sc.owners[i%len(sc.owners)])); err != nil {
			sc.Close()
			return nil, err
		}
	}
	if err := sc.settle(ctx, relay, p); err != nil {
		sc.Close()
		return nil, err
	}
	byLead := map[string]int64{}
	for _, t := range s.LC.Conversations() {
		if id, ok := t.CustomAttributes["lsq_record_id"].(string); ok {
			byLead[id] = t.ID
		}
	}
	for _, r := range s.LSQ.Leads() {
		if t, ok := byLead[r.ID]; ok {
			sc.leads = append(sc.leads, r.ID)
			sc.tickets = append(sc.tickets, t)
		}
	}
	if len(sc.leads) < n {
		sc.Close()
		return nil, fmt.Errorf("setup: %d of %d leads got their ticket", len(sc.leads), n)
	}
	if err := sc.vacuum(ctx); err != nil {
		sc.Close()
		return nil, err
	}
	return sc, nil
}

// vacuum does what autovacuum does for a service between a bench's phases:
// statistics for the planner, and the dead rows of the setup (or of the
// previous phase) out of the outbox's indexes. (Postgres on a test machine
// may run with autovacuum off; a production database does not.)
func (sc *scene) vacuum(ctx context.Context) error {
	if err := db.New(sc.pool).BenchVacuum(ctx); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

func leadFields(i int, owner string) map[string]string {
	return map[string]string{"FirstName": fmt.Sprintf("Bench%d", i), "LastName": "Lead",
		"EmailAddress": fmt.Sprintf("bench%d@example.com", i), "Phone": fmt.Sprintf("+91-98%08d", i),
		"OwnerId": owner, "ProspectStage": "Prospect", "mx_City": "Pune"}
}

// settle waits until the fakes' webhooks are posted and the outbox of the
// demo integration is empty (draining it when the relay does not run).
func (sc *scene) settle(ctx context.Context, relay bool, p Progress) error {
	q := db.New(sc.pool)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if err := sc.s.LSQHooks.Wait(ctx); err != nil {
			return err
		}
		if err := sc.s.LCHooks.Wait(ctx); err != nil {
			return err
		}
		if !relay {
			if _, err := sc.s.App.Relay.Drain(ctx); err != nil {
				return err
			}
		}
		open, err := q.BenchOpenActions(ctx, sandbox.IntegrationID)
		if err != nil {
			return err
		}
		if open == 0 && sc.s.LSQHooks.Pending() == 0 && sc.s.LCHooks.Pending() == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sandbox did not settle: %d actions open", open)
		}
		p.Status("setup: %d actions still open…", open)
		time.Sleep(50 * time.Millisecond)
	}
}

func (sc *scene) Close() { _ = sc.s.Close() }

// post sends one webhook delivery as its platform would and reports an
// answer the platform would take for a failure.
func (sc *scene) post(ctx context.Context, d fakehooks.Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	req.Header = d.Header.Clone()
	resp, err := sc.client.Do(req)
	if err != nil {
		return err
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"Status":"Error"`)) {
		return fmt.Errorf("webhook answered %d %s", resp.StatusCode, bytes.TrimSpace(reply))
	}
	return nil
}

var errNoDeliveries = errors.New("the fakes sent no webhook for a change")
