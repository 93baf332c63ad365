package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/lsqbridge/lsqbridge/cmd/internal/ops"
	"github.com/lsqbridge/lsqbridge/outbox"
)

const outboxUsage = "usage: lsqbridge outbox list [--integration ID] [--status dead,pending] [--limit N]\n" +
	"       lsqbridge outbox retry --integration ID [--force] ACTION_ID... | --all\n" +
	"       lsqbridge outbox drop --integration ID ACTION_ID..."

// cmdOutbox lists, retries and drops failing or dead actions (ops.Outbox).
func cmdOutbox(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New(outboxUsage)
	}
	sub := args[0]
	fs := e.flagSet("outbox " + sub)
	e.cfg.BindDB(fs)
	integration := fs.String("integration", "", "the integration the actions belong to")
	status := fs.String("status", "dead,pending", "with list: statuses to show, comma-separated")
	limit := fs.Int("limit", 200, "with list: at most this many rows")
	force := fs.Bool("force", false, "with retry: also retry actions whose earlier delivery may have happened (outcome unknown)")
	all := fs.Bool("all", false, "with retry: every dead action of the integration (those of unknown outcome need --force too)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	var ids []int64
	switch sub {
	case "list":
		if len(pos) > 0 {
			return fmt.Errorf("list takes no arguments\n%s", outboxUsage)
		}
	case "retry", "drop":
		if *all && (sub != "retry" || *integration == "" || len(pos) > 0) {
			return fmt.Errorf("--all goes with retry --integration ID and no action ids\n%s", outboxUsage)
		}
		if *all {
			break
		}
		if *integration == "" || len(pos) == 0 {
			return fmt.Errorf("%s needs --integration ID and at least one action id\n%s", sub, outboxUsage)
		}
		for _, p := range pos {
			id, err := strconv.ParseInt(p, 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not an action id (the number in the list's ID column)", p)
			}
			ids = append(ids, id)
		}
	default:
		return fmt.Errorf("unknown outbox command %q\n%s", sub, outboxUsage)
	}
	if err := e.cfg.Validate(true, false); err != nil {
		return err
	}
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	o := &ops.Outbox{Admin: outbox.NewAdmin(pool), Out: e.stdout, Err: e.stderr, Progress: e.progress()}
	if *all {
		if ids, err = o.DeadActions(e.ctx, *integration); err != nil {
			return err
		}
		if len(ids) == 0 {
			fmt.Fprintf(e.stdout, "no dead actions in %s\n", *integration)
			return nil
		}
	}
	switch sub {
	case "list":
		return o.List(e.ctx, *integration, *status, *limit)
	case "retry":
		return o.Retry(e.ctx, *integration, ids, *force)
	default:
		return o.Drop(e.ctx, *integration, ids)
	}
}
