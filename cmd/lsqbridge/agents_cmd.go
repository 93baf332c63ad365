package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
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
	return printAgents(e, list)
}

// presence says on which side a person is, and whether they are active.
func presence(a service.AgentEntry) string {
	inLsq, inLc := a.LeadSquaredUserID != "", a.LimeChatAgentID != 0
	var s string
	switch {
	case inLsq && inLc:
		s = "matched"
	case inLsq:
		s = "LeadSquared only"
	case inLc:
		s = "LimeChat only"
	default:
		s = "neither (left both)"
	}
	var inactive []string
	if inLsq && !a.LeadSquaredActive {
		inactive = append(inactive, "LeadSquared")
	}
	if inLc && !a.LimeChatActive {
		inactive = append(inactive, "LimeChat")
	}
	if len(inactive) > 0 {
		s += ", inactive in " + strings.Join(inactive, " and ")
	}
	return s
}

func printAgents(e *env, list []service.AgentEntry) error {
	t := newTable(e.stdout, "EMAIL", "LEADSQUARED USER", "LIMECHAT AGENT", "NAME", "PRESENT", "REFRESHED")
	var matched, lsqOnly, lcOnly int
	for _, a := range list {
		lsq, lc := a.LeadSquaredUserID, ""
		if a.LimeChatAgentID != 0 {
			lc = strconv.FormatInt(a.LimeChatAgentID, 10)
		}
		switch {
		case lsq != "" && lc != "":
			matched++
		case lsq != "":
			lsqOnly++
		case lc != "":
			lcOnly++
		}
		name := a.LeadSquaredName
		if name == "" {
			name = a.LimeChatName
		}
		t.row(a.Email, lsq, lc, name, presence(a), stamp(a.RefreshedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\n%d matched, %d in LeadSquared only, %d in LimeChat only.\n", matched, lsqOnly, lcOnly)
	if lsqOnly+lcOnly > 0 {
		fmt.Fprintln(e.stdout, "People on one side only cannot be mapped: their records or tickets show as unmatched_agent"+
			" (lsqbridge audit unmatched). Add them on the other platform with the same e-mail, then run agents refresh.")
	}
	return nil
}
