package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
)

// cli runs lsqbridge in-process with the given environment.
type cli struct {
	t   testing.TB
	env map[string]string
	// tty runs the command as if stderr were a terminal (progress shown).
	tty bool
}

func (c *cli) getenv(k string) string { return c.env[k] }

// run returns exit code, stdout and stderr.
func (c *cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdout: &out, stderr: &errb, getenv: c.getenv, cfg: app.ConfigFromEnv(c.getenv), tty: c.tty}
	code := e.run(args)
	return code, out.String(), errb.String()
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("lsqbridge %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}
