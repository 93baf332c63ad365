// Command lsqbridge is the one binary of lsqbridge: the service (serve), its
// schema (migrate), per-customer configuration (integration), and the tools
// support and operators use (agents, outbox, audit, reconcile, sandbox, uat,
// bench). Run `lsqbridge help` for the list.
//
// This package is the command line only: each command parses its flags,
// reads the environment into an app.Config and runs a package of
// cmd/internal (app, sandbox, uat, ops) or of the domain.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
)

const usage = `lsqbridge keeps LimeChat tickets and LeadSquared leads/opportunities in step.

Usage: lsqbridge <command> [flags]

Commands:
  serve                         run the webhook API, the outbox relay and the reconciler
  migrate up|down|status|version  manage the database schema
  integration apply -f FILE | validate -f FILE | list | show ID | disable ID
  integration rotate-token ID --for leadsquared|limechat|automation|app|all
  agents refresh|list ID        the e-mail directory matching owners and agents
  outbox list|retry|drop        inspect and handle failing or dead actions
  links unpause --integration ID LINK...   let links the loop fuse paused sync again
  audit links|timeline|events|failing|held|unmatched|lag   support views as tables
  reconcile [--integration ID] [--dry-run]  repair (or, dry, list) what lost webhooks and writes left apart
  sandbox                       the service against built-in fakes of both platforms
  uat                           run the acceptance checklist against the sandbox or a real integration
  bench relay|ingest|e2e        measure the relay, ingest and end-to-end latency on this machine
  fake leadsquared|limechat     run one platform fake as its own process (demo people, /_person/ API)
  version                       module version, commit and Go version of this binary

Settings come from the environment (flags override): DATABASE_URL, LSQBRIDGE_MASTER_KEY,
LSQBRIDGE_LISTEN, LSQBRIDGE_PUBLIC_URL, LSQBRIDGE_RELAY_WORKERS, LSQBRIDGE_RELAY_LEASE, LSQBRIDGE_RECONCILE_EVERY,
LSQBRIDGE_LOG_LEVEL, LSQBRIDGE_DB_MAX_CONNS, LSQBRIDGE_DB_STATEMENT_TIMEOUT, LSQBRIDGE_DB_LOCK_TIMEOUT,
LSQBRIDGE_SHUTDOWN_TIMEOUT, LSQBRIDGE_ALLOW_LOOPBACK (local fakes only).
Run "lsqbridge COMMAND --help" for a command's flags and the variables it reads.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// env bundles what a command may use, so tests can run commands in-process.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	cfg    app.Config
	// tty is set when stderr is a terminal: long commands show progress.
	tty bool
	// help is set when the command line asks for help (see cli.go);
	// flagsOnly prints only a flag set's flags and environment.
	help, flagsOnly bool
	// flags is the last flag set the command made (its --help lists it).
	flags *flag.FlagSet
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, getenv: getenv, cfg: app.ConfigFromEnv(getenv), tty: isTerminal(stderr)}
	return e.run(args)
}

// commands maps each command name to its function.
func commands() map[string]func(*env, []string) error {
	return map[string]func(*env, []string) error{
		"serve":       cmdServe,
		"migrate":     cmdMigrate,
		"integration": cmdIntegration,
		"sandbox":     cmdSandbox,
		"agents":      cmdAgents,
		"outbox":      cmdOutbox,
		"audit":       cmdAudit,
		"reconcile":   cmdReconcile,
		"uat":         cmdUAT,
		"bench":       cmdBench,
		"fake":        cmdFake,
		"links":       cmdLinks,
		"version":     cmdVersion,
	}
}

func (e *env) run(args []string) int {
	if len(args) > 1 && args[0] == "help" { // help COMMAND = COMMAND --help
		args = append(args[1:], "--help")
	}
	if len(args) == 0 || args[0] == "help" || isHelpArg(args[0]) {
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	fn, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "lsqbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	e.help = wantsHelp(args)
	if e.help && len(commandDocs()[args[0]].subs) > 0 && (len(args) == 1 || isHelpArg(args[1])) {
		e.groupHelp(args[0], fn)
		return 0
	}
	if err := fn(e, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(e.stderr, "lsqbridge %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
