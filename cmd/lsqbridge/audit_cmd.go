package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lsqbridge/lsqbridge/cmd/internal/ops"
)

// cmdAudit prints one support view (docs/audit.md) as a table (ops.Audit).
func cmdAudit(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New(ops.AuditUsage())
	}
	v, ok := ops.AuditViews()[args[0]]
	if !ok {
		return fmt.Errorf("unknown view %q\n%s", args[0], ops.AuditUsage())
	}
	fs := e.flagSet("audit " + args[0])
	e.cfg.BindDB(fs)
	integration := fs.String("integration", "", "only this integration")
	wide := fs.Bool("wide", false, "every column of the view, nothing truncated")
	limit := fs.Int("limit", v.Limit, "at most this many rows (0 = all)")
	query := v.Bind(fs)
	rest, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected %q\nusage: lsqbridge audit %s", strings.Join(rest, " "), v.Help)
	}
	if err := e.cfg.Validate(true, false); err != nil {
		return err
	}
	q, err := query(*integration, *limit)
	if err != nil {
		return err
	}
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	return ops.Audit(e.ctx, pool, e.stdout, q, *wide)
}
