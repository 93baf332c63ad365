package main

import (
	"errors"
	"fmt"

	"github.com/lsqbridge/lsqbridge/cmd/internal/ops"
	"github.com/lsqbridge/lsqbridge/service"
)

// cmdIntegration creates, checks and manages customers' integrations (ops.Integrations).
func cmdIntegration(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: lsqbridge integration apply -f FILE | validate -f FILE | list | show ID | rotate-token ID --for " + ops.PowerList + " | disable ID")
	}
	sub, rest := args[0], args[1:]
	fs := e.flagSet("integration " + sub)
	e.cfg.BindDB(fs)
	file := fs.String("f", "", "with apply and validate: the integration's YAML file")
	fs.StringVar(&e.cfg.PublicURL, "public-url", e.cfg.PublicURL, "URL the platforms reach lsqbridge at (env LSQBRIDGE_PUBLIC_URL)")
	offline := fs.Bool("offline", false, "with apply: do not check the rules' field names against LeadSquared")
	forPowers := fs.String("for", "", "with rotate-token: which credential(s), comma-separated: "+ops.PowerList+", or all")
	fs.BoolVar(&e.cfg.AllowLoopback, "allow-loopback", e.cfg.AllowLoopback, "with apply and validate: accept platform URLs on loopback addresses, over http:// too (local fakes only; env LSQBRIDGE_ALLOW_LOOPBACK)")
	args, err := parseInterleaved(fs, rest)
	if err != nil {
		return err
	}
	if sub == "validate" {
		return ops.ValidateIntegrationFile(e.stdout, *file, e.cfg.AllowLoopback)
	}

	// Parse and resolve the file before touching the database, so a bad
	// file is reported even when the database is down.
	var cfg *service.IntegrationConfig
	if sub == "apply" {
		if *file == "" {
			return errors.New("apply needs -f FILE")
		}
		if cfg, err = ops.LoadIntegration(*file, e.cfg.AllowLoopback, e.getenv); err != nil {
			return err
		}
	}
	var powers []service.Power
	if sub == "rotate-token" {
		if powers, err = ops.ParsePowers(*forPowers); err != nil {
			return err
		}
	}
	needKey := sub == "apply" || sub == "show"
	if err := e.cfg.Validate(true, needKey); err != nil {
		return err
	}
	var sealer *service.Sealer
	if needKey || e.cfg.MasterKey != "" {
		var err error
		if sealer, err = service.NewSealer(e.cfg.MasterKey); err != nil {
			return err
		}
	}
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	x := &ops.Integrations{Store: service.NewIntegrations(pool, sealer), Out: e.stdout, Warn: e.stderr,
		WebhookBase: e.cfg.WebhookBase(), AllowLoopback: e.cfg.AllowLoopback}

	switch sub {
	case "apply":
		return x.Apply(e.ctx, cfg, *file, *offline)
	case "list":
		return x.List(e.ctx)
	case "show":
		id, err := oneArg(args, "show ID")
		if err != nil {
			return err
		}
		return x.Show(e.ctx, id)
	case "rotate-token":
		id, err := oneArg(args, "rotate-token ID --for "+ops.PowerList)
		if err != nil {
			return err
		}
		return x.Rotate(e.ctx, id, powers)
	case "disable":
		id, err := oneArg(args, "disable ID")
		if err != nil {
			return err
		}
		return x.Disable(e.ctx, id)
	default:
		return fmt.Errorf("unknown integration command %q", sub)
	}
}

func oneArg(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("usage: lsqbridge integration %s", what)
	}
	return args[0], nil
}
