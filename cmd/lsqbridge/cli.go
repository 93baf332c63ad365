package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"golang.org/x/term"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/ops"
)

// commandDoc is what `lsqbridge COMMAND --help` says beyond the flags.
type commandDoc struct {
	summary string
	// subs are a group's subcommands, as their usage lines.
	subs []string
	// env are the environment variables the command reads.
	env []string
	// note follows the environment list.
	note string
}

// Every database command's and the service's settings.
var (
	dbEnv      = []string{"DATABASE_URL"}
	keyEnv     = []string{"DATABASE_URL", "LSQBRIDGE_MASTER_KEY"}
	serviceEnv = []string{"DATABASE_URL", "LSQBRIDGE_MASTER_KEY", "LSQBRIDGE_LISTEN", "LSQBRIDGE_PUBLIC_URL",
		"LSQBRIDGE_RELAY_WORKERS", "LSQBRIDGE_RECONCILE_EVERY", "LSQBRIDGE_LOG_LEVEL", "LSQBRIDGE_DB_MAX_CONNS",
		"LSQBRIDGE_DB_STATEMENT_TIMEOUT", "LSQBRIDGE_DB_LOCK_TIMEOUT", "LSQBRIDGE_SHUTDOWN_TIMEOUT", "LSQBRIDGE_RELAY_LEASE", "LSQBRIDGE_ALLOW_LOOPBACK"}
)

// envDocs describes each environment variable lsqbridge reads.
func envDocs() map[string]string {
	return map[string]string{
		"DATABASE_URL":                   "Postgres URL, e.g. postgres://postgres@127.0.0.1:5432/lsqbridge",
		"LSQBRIDGE_MASTER_KEY":           "64 hex characters (openssl rand -hex 32) sealing the integrations' secrets",
		"LSQBRIDGE_LISTEN":               "address to listen on (default 127.0.0.1:8080)",
		"LSQBRIDGE_PUBLIC_URL":           "the URL the platforms reach lsqbridge at (webhook URLs, form links)",
		"LSQBRIDGE_RELAY_WORKERS":        fmt.Sprintf("outbox deliveries in flight at once per process (default %d)", app.DefaultRelayWorkers),
		"LSQBRIDGE_RECONCILE_EVERY":      "reconciler period inside serve (default 10m; 0 turns it off)",
		"LSQBRIDGE_LOG_LEVEL":            "debug, info, warn or error (default info)",
		"LSQBRIDGE_DB_MAX_CONNS":         fmt.Sprintf("database connections at most per process (default %d)", app.DefaultDBMaxConns),
		"LSQBRIDGE_DB_STATEMENT_TIMEOUT": fmt.Sprintf("longest statement of the service's connections (default %s)", app.DefaultStatementTimeout),
		"LSQBRIDGE_DB_LOCK_TIMEOUT":      fmt.Sprintf("longest wait for a row or advisory lock (default %s)", app.DefaultLockTimeout),
		"LSQBRIDGE_SHUTDOWN_TIMEOUT":     fmt.Sprintf("serve exits within this after SIGTERM (default %s)", app.DefaultShutdownTimeout),
		"LSQBRIDGE_ALLOW_LOOPBACK":       "true lets integrations use platform URLs on loopback addresses (local fakes only)",
		"LSQBRIDGE_RELAY_LEASE":          fmt.Sprintf("how long a claimed action is this process's before another may take it (default %s)", app.DefaultRelayLease),
	}
}

// commandDocs documents every command of `lsqbridge`, by name.
func commandDocs() map[string]commandDoc {
	auditViews := make([]string, 0, len(ops.AuditViews()))
	for _, v := range ops.AuditViews() {
		auditViews = append(auditViews, v.Help)
	}
	sort.Strings(auditViews)
	return map[string]commandDoc{
		"serve":   {summary: "Run the webhook API, the outbox relay and the reconciler until SIGTERM or SIGINT.", env: serviceEnv},
		"sandbox": {summary: "Run lsqbridge against built-in fakes of LeadSquared and LimeChat (what `make run` starts).", env: serviceEnv},
		"migrate": {summary: "Manage the database schema (embedded goose migrations, session-locked).",
			subs: []string{"up", "down [--to N]", "status", "version"}, env: dbEnv},
		"integration": {summary: "Create, check and manage customers' integrations.",
			subs: []string{"apply -f FILE [--offline]", "validate -f FILE", "list", "show ID", "rotate-token ID", "disable ID"},
			env:  []string{"DATABASE_URL", "LSQBRIDGE_MASTER_KEY", "LSQBRIDGE_PUBLIC_URL"},
			note: "apply also reads the variables the file's ${ENV} secret references name; validate reads nothing but the file."},
		"agents": {summary: "The e-mail directory matching LeadSquared owners and LimeChat agents.",
			subs: []string{"refresh ID", "list ID"}, env: keyEnv,
			note: "LSQBRIDGE_MASTER_KEY is needed by refresh only."},
		"outbox": {summary: "Inspect and handle failing or dead actions.",
			subs: []string{"list [--integration ID] [--status dead,pending] [--limit N]",
				"retry --integration ID [--force] ACTION_ID... | --all", "drop --integration ID ACTION_ID..."}, env: dbEnv},
		"links": {summary: "Let links the loop fuse paused sync again.",
			subs: []string{"unpause --integration ID LINK_ID..."}, env: dbEnv},
		"audit": {summary: "Support's views as tables (docs/audit.md); every view takes --limit N and --wide.",
			subs: auditViews, env: dbEnv},
		"reconcile": {summary: "One reconcile pass now: repair the differences lost webhooks left.", env: keyEnv},
		"uat":       {summary: "Run the acceptance checklist against the sandbox or a real integration.", env: keyEnv},
		"bench": {summary: "Measure the relay, ingest and end-to-end latency on this machine (use a scratch database; docs/performance.md).",
			subs: []string{"relay [-n N] [-keys K] [-workers W] [--sink-latency D] [--paced]", "ingest [--links L] [-n N] [--concurrency 1,4,16,32]",
				"e2e --rate R | --find-max"},
			env: keyEnv, note: "Without LSQBRIDGE_MASTER_KEY a fixed bench key is used. Every bench takes --json."},
		"fake": {summary: "Run one platform fake as its own process (demo people, /_person/ API).",
			subs: []string{"leadsquared [--listen ADDR]", "limechat [--listen ADDR]"}},
		"version": {summary: "Print lsqbridge's module version, commit and Go version (from the binary's build info)."},
	}
}

// parseInterleaved parses flags wherever they appear among the positional
// arguments, so `outbox retry 12 13 --integration acme` works as well as
// the flags first; it returns the positional arguments in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// isHelpArg reports whether an argument asks for help.
func isHelpArg(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// wantsHelp reports whether the command line asks for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpArg(a) {
			return true
		}
	}
	return false
}

// flagSet returns a command's flag set. With --help its usage lists the
// command, its flags and the environment variables it reads, on stdout;
// a wrong flag gets the flag package's error and a pointer to --help.
func (e *env) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		if !e.help {
			fmt.Fprintf(e.stderr, "Run `lsqbridge %s --help` for its flags.\n", name)
			return
		}
		e.printUsage(e.stdout, fs)
	}
	e.flags = fs
	return fs
}

// envInUsage finds the variable a flag's usage names: "… (env DATABASE_URL)".
var envInUsage = regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)

// printUsage writes a command's help: usage line, summary, flags, environment.
func (e *env) printUsage(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	top, _, _ := strings.Cut(name, " ")
	doc := commandDocs()[top]
	if !e.flagsOnly {
		fmt.Fprintf(w, "Usage: lsqbridge %s [flags]\n\n%s\n", name, doc.summary)
	}
	fmt.Fprintln(w, "\nFlags:")
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		fmt.Fprintln(w, "  none")
	}
	env := slices.Clone(doc.env)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n        %s", line, usage)
		// A flag's default that came from the environment is not shown:
		// it may be a secret (a database URL with its password).
		if m := envInUsage.FindStringSubmatch(usage); m != nil {
			if !slices.Contains(env, m[1]) {
				env = append(env, m[1])
			}
		} else if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	printEnv(w, env, doc.note)
}

func printEnv(w io.Writer, env []string, note string) {
	if len(env) == 0 && note == "" {
		fmt.Fprintln(w, "\nEnvironment: none.")
		return
	}
	fmt.Fprintln(w, "\nEnvironment:")
	docs := envDocs()
	for _, v := range env {
		fmt.Fprintf(w, "  %-26s %s\n", v, docs[v])
	}
	if note != "" {
		fmt.Fprintf(w, "  %s\n", note)
	}
}

// groupHelp answers `lsqbridge GROUP --help`: the subcommands, and the
// flags they share (shown by asking the first one for them).
func (e *env) groupHelp(name string, fn func(*env, []string) error) {
	doc := commandDocs()[name]
	fmt.Fprintf(e.stdout, "Usage: lsqbridge %s COMMAND [flags]\n\n%s\n\nCommands:\n", name, doc.summary)
	for _, s := range doc.subs {
		fmt.Fprintf(e.stdout, "  lsqbridge %s %s\n", name, s)
	}
	first, _, _ := strings.Cut(doc.subs[0], " ")
	if name == "audit" {
		// Each view has its own filters.
		fmt.Fprintf(e.stdout, "\n`lsqbridge audit VIEW --help` lists a view's flags.\n")
		printEnv(e.stdout, doc.env, doc.note)
		return
	}
	e.flagsOnly = true
	_ = fn(e, []string{first, "--help"})
}

// cmdVersion prints what the binary was built from.
func cmdVersion(e *env, args []string) error {
	fs := e.flagSet("version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprint(e.stdout, versionText())
	return nil
}

// versionText reads the binary's build info: module version, VCS commit
// (with time and whether the tree was modified) and Go version.
func versionText() string {
	var b strings.Builder
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(&b, "lsqbridge (no build information)\ngo       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return b.String()
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	fmt.Fprintf(&b, "lsqbridge %s\n", bi.Main.Version)
	fmt.Fprintf(&b, "module   %s %s\n", bi.Main.Path, bi.Main.Version)
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		if t := settings["vcs.time"]; t != "" {
			rev += " " + t
		}
		fmt.Fprintf(&b, "commit   %s\n", rev)
	} else {
		fmt.Fprintf(&b, "commit   unknown (built outside a git checkout)\n")
	}
	fmt.Fprintf(&b, "go       %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

// isTerminal reports whether w is a terminal (not a pipe or a file).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress returns the command's progress display (off unless stderr is a terminal).
func (e *env) progress() *ops.Progress {
	if e.tty {
		return ops.NewProgress(e.stderr)
	}
	return ops.NewProgress(nil)
}
