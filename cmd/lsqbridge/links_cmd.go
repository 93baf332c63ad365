package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/lsqbridge/lsqbridge/service"
)

// cmdLinks handles links the loop fuse paused.
func cmdLinks(e *env, args []string) error {
	if len(args) == 0 || args[0] != "unpause" {
		return errors.New("usage: lsqbridge links unpause --integration ID LINK_ID...")
	}
	fs := e.flagSet("links unpause")
	e.cfg.BindDB(fs)
	integration := fs.String("integration", "", "the links' integration (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *integration == "" || fs.NArg() == 0 {
		return errors.New("usage: lsqbridge links unpause --integration ID LINK_ID...")
	}
	if err := e.cfg.Validate(true, false); err != nil {
		return err
	}
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	var errs []error
	for _, a := range fs.Args() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not a link id", a))
			continue
		}
		if err := service.UnpauseLink(e.ctx, pool, *integration, id); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(e.stdout, "link %d syncs again\n", id)
	}
	if len(errs) < fs.NArg() {
		fmt.Fprintf(e.stdout, "Events that came while it was paused were not applied: run `lsqbridge reconcile --integration %s` to bring both sides back to agreement.\n", *integration)
	}
	return errors.Join(errs...)
}
