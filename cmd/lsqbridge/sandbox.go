package main

import (
	"errors"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
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
