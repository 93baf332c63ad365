package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/ops"
	"github.com/lsqbridge/lsqbridge/service"
)

// `lsqbridge agents` shows and refreshes the e-mail directory that maps
// LeadSquared owners to LimeChat agents. A person present on one side only
// cannot be mapped: their records and tickets show up as unmatched_agent.

const agentsUsage = "usage: lsqbridge agents refresh ID | list ID"

func cmdAgents(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New(agentsUsage)
	}
	sub := args[0]
	fs := e.flagSet("agents " + sub)
	e.cfg.BindDB(fs)
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if sub != "refresh" && sub != "list" {
		return fmt.Errorf("unknown agents command %q\n%s", sub, agentsUsage)
	}
	if len(pos) != 1 {
		return fmt.Errorf("%s needs one integration id\n%s", sub, agentsUsage)
	}
	id := pos[0]
	// Refreshing calls both platforms with the integration's keys, which
	// only the master key opens; listing reads the directory alone.
	needKey := sub == "refresh"
	if err := e.cfg.Validate(true, needKey); err != nil {
		return err
	}
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	var sealer *service.Sealer
	if needKey {
		if sealer, err = service.NewSealer(e.cfg.MasterKey); err != nil {
			return err
		}
	}
	store := service.NewIntegrations(pool, sealer)
	dir := service.NewAgentDirectory(pool, app.NewPlatforms(e.cfg.AllowLoopback), nil, slog.New(slog.DiscardHandler), 0)
	if needKey {
		in, err := store.Get(e.ctx, id)
		if err != nil {
			return err
		}
		st, err := dir.Refresh(e.ctx, in)
		if err != nil {
			return fmt.Errorf("refresh %s: %w", id, err)
		}
		fmt.Fprintf(e.stdout, "Refreshed %s: %d LeadSquared users, %d LimeChat agents, %d people matched by e-mail.\n\n",
			id, st.LeadSquaredUsers, st.LimeChatAgents, st.Matched)
	} else if _, err := store.Show(e.ctx, id); err != nil {
		return err
	}
	list, err := dir.List(e.ctx, id)
	if err != nil {
		return fmt.Errorf("list agents of %s: %w", id, err)
	}
	return ops.PrintAgents(e.stdout, list)
}
