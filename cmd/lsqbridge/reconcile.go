package main

import (
	"fmt"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/ops"
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
	r, notifier := app.NewReconcilePass(pool, e.cfg, app.NewLogger(e.stderr, "warn"))
	r.DryRun = *dryRun
	p := e.progress()
	r.Progress = func(integration string, st service.ReconcileStats) {
		p.Status("reconciling %s: %d links, %d changed, %d created, %d actions, %d errors", integration, st.Links, st.Changed, st.Created, st.Actions, st.Errors)
	}
	start := time.Now()
	stats, err := r.RunAll(e.ctx, integrations, *id)
	p.Done()
	ops.PrintReconcile(e.stdout, stats, *dryRun)
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
