package main

import (
	"errors"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/cmd/internal/uat"
)

func cmdSandbox(e *env, args []string) error {
	fs := e.flagSet("sandbox")
	e.cfg.BindServe(fs)
	lsqAddr := fs.String("leadsquared-listen", "127.0.0.1:8081", "address of the LeadSquared fake")
	lcAddr := fs.String("limechat-listen", "127.0.0.1:8082", "address of the LimeChat fake")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := e.cfg.Validate(true, true); err != nil {
		return err
	}
	return sandbox.Run(e.ctx, e.cfg, app.NewLogger(e.stderr, e.cfg.LogLevel), e.stdout, *lsqAddr, *lcAddr)
}

// cmdFake runs one platform fake as its own process (see sandbox.RunFake).
func cmdFake(e *env, args []string) error {
	if len(args) == 0 || (args[0] != "leadsquared" && args[0] != "limechat") {
		return errors.New("usage: lsqbridge fake leadsquared|limechat [--listen ADDR]")
	}
	fs := e.flagSet("fake " + args[0])
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	return sandbox.RunFake(e.ctx, e.stdout, args[0], *listen)
}

// cmdUAT runs the acceptance checklist (package uat) against an
// integration, the sandbox's demo one by default.
func cmdUAT(e *env, args []string) error {
	fs := e.flagSet("uat")
	e.cfg.BindDB(fs)
	id := fs.String("integration", "demo", "integration to check (the sandbox's is demo)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long each check may wait")
	allowSkip := fs.Bool("allow-skip", false, "succeed even when a check cannot run (the integration has no rule for it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, integrations, err := e.openIntegrations()
	if err != nil {
		return err
	}
	defer pool.Close()
	in, err := integrations.Get(e.ctx, *id)
	if err != nil {
		return err
	}
	return uat.Run(e.ctx, e.stdout, pool, in, uat.Options{Timeout: *timeout, AllowSkip: *allowSkip, AllowLoopback: e.cfg.AllowLoopback, Progress: e.progress()})
}
