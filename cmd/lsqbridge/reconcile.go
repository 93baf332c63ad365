package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// cmdReconcile makes one reconcile pass now (serve also runs one on a timer).
func cmdReconcile(e *env, args []string) error {
	fs := e.flagSet("reconcile")
	e.cfg.BindDB(fs)
	id := fs.String("integration", "", "only this integration (default: every enabled one)")
	dryRun := fs.Bool("dry-run", false, "read both platforms and list what disagrees and what a pass would do, without acting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, integrations, err := e.openIntegrations()
	if err != nil {
		return err
	}
	defer pool.Close()
	log := app.NewLogger(e.stderr, "warn")
	platforms := app.NewPlatforms(e.cfg.AllowLoopback)
	// Actions go to the outbox; a NOTIFY wakes the relays of running serves.
	notifier := outbox.NewNotifier(pool, time.Millisecond, log)
	agents := service.NewAgentDirectory(pool, platforms, nil, log, 0)
	sync := service.NewSync(pool, service.SyncConfig{Agents: agents, Notify: notifier.Notify, Logger: log})
	r := service.NewReconciler(pool, sync, platforms, service.NewSharedPacer(pool), log)
	r.DryRun = *dryRun
	p := e.progress()
	r.Progress = func(integration string, st service.ReconcileStats) {
		p.Status("reconciling %s: %d links, %d changed, %d created, %d actions, %d errors", integration, st.Links, st.Changed, st.Created, st.Actions, st.Errors)
	}
	start := time.Now()
	stats, err := r.RunAll(e.ctx, integrations, *id)
	p.Done()
	ids := make([]string, 0, len(stats))
	for k := range stats {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if *dryRun {
		fmt.Fprintln(tw, "INTEGRATION\tLINK\tRECORD\tTICKET\tDISAGREES\tWOULD DO")
		for _, k := range ids {
			for _, p := range stats[k].Plans {
				fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\n", k, orDash(idOrEmpty(p.LinkID)), p.RecordKind, p.RecordID, orDash(idOrEmpty(p.TicketID)),
					orDash(strings.Join(p.Disagrees, "; ")), orDash(strings.Join(p.Actions, "; ")))
			}
		}
		_ = tw.Flush()
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintln(tw, "INTEGRATION\tLINKS\tDISAGREEING\tSKIPPED\tCHANGED\tCREATED\tACTIONS\tNOTES\tERRORS\tLEADS MODIFIED")
	for _, k := range ids {
		s := stats[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", k, s.Links, s.Disagreeing, s.Skipped, s.Changed, s.Created, s.Actions, s.Notes, s.Errors, s.LeadRead)
	}
	_ = tw.Flush()
	if *dryRun {
		fmt.Fprintf(e.stdout, "dry run in %s: nothing was changed or enqueued\n", time.Since(start).Round(time.Millisecond))
		return err
	}
	fmt.Fprintf(e.stdout, "reconciled in %s; actions are delivered by the relay of `lsqbridge serve`\n", time.Since(start).Round(time.Millisecond))
	if ferr := notifier.Flush(e.ctx); ferr != nil {
		fmt.Fprintf(e.stderr, "could not wake running relays (they poll every second anyway): %v\n", ferr)
	}
	return err
}

// idOrEmpty renders an id, "" for none (a record the pass would link).
func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
