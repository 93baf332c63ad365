package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
)

// helpRun runs one command line in-process and returns the exit code, the
// output and the last flag set the command made.
func helpRun(getenv func(string) string, args ...string) (int, string, string, *flag.FlagSet) {
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdout: &out, stderr: &errb, getenv: getenv, cfg: app.ConfigFromEnv(getenv)}
	code := e.run(args)
	return code, out.String(), errb.String(), e.flags
}

// TestHelpListsFlagsAndEnvironmentOfEveryCommand asks every command and
// subcommand for --help: it answers on stdout, exit 0, with every flag its
// flag set defines and every environment variable it reads, and never the
// value of one (a database URL holds a password).
func TestHelpListsFlagsAndEnvironmentOfEveryCommand(t *testing.T) {
	t.Parallel()
	const secret = "pw-not-for-help"
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return "postgres://u:" + secret + "@db/lsqbridge"
		}
		return ""
	}
	docs := commandDocs()
	envs := envDocs()
	lines := 0
	for name := range commands() {
		doc, ok := docs[name]
		if !ok {
			t.Errorf("%s has no help entry in commandDocs", name)
			continue
		}
		var lineArgs [][]string
		if len(doc.subs) == 0 {
			lineArgs = append(lineArgs, []string{name, "--help"})
		} else {
			lineArgs = append(lineArgs, []string{name, "--help"}, []string{"help", name})
			for _, s := range doc.subs {
				sub, _, _ := strings.Cut(s, " ")
				lineArgs = append(lineArgs, []string{name, sub, "--help"})
			}
		}
		for _, args := range lineArgs {
			lines++
			cmdline := strings.Join(args, " ")
			code, out, errs, fs := helpRun(getenv, args...)
			if code != 0 || errs != "" {
				t.Errorf("lsqbridge %s: exit %d, stderr %q", cmdline, code, errs)
				continue
			}
			if !strings.HasPrefix(out, "Usage: lsqbridge "+name) || !strings.Contains(out, doc.summary) {
				t.Errorf("lsqbridge %s does not start with its usage and summary:\n%s", cmdline, out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("lsqbridge %s shows the DATABASE_URL's value", cmdline)
			}
			if len(doc.subs) > 0 && (args[0] == "help" || args[1] == "--help") {
				for _, s := range doc.subs {
					if !strings.Contains(out, "lsqbridge "+name+" "+s) {
						t.Errorf("lsqbridge %s does not list %q", cmdline, s)
					}
				}
				if name == "audit" {
					continue // each view has its own flags: asked for below
				}
			}
			if fs == nil {
				t.Errorf("lsqbridge %s made no flag set", cmdline)
				continue
			}
			_, envPart, _ := strings.Cut(out, "\nEnvironment:")
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(out, "\n  -"+f.Name+" ") && !strings.Contains(out, "\n  -"+f.Name+"\n") {
					t.Errorf("lsqbridge %s does not list its flag -%s", cmdline, f.Name)
				}
				if m := envInUsage.FindStringSubmatch(f.Usage); m != nil && !strings.Contains(envPart, "  "+m[1]+" ") {
					t.Errorf("lsqbridge %s: flag -%s reads %s, which its Environment section does not list", cmdline, f.Name, m[1])
				}
			})
			for _, v := range doc.env {
				if _, ok := envs[v]; !ok {
					t.Errorf("%s reads %s, which envDocs does not describe", name, v)
				}
				if !strings.Contains(envPart, "  "+v+" ") {
					t.Errorf("lsqbridge %s does not list the variable %s:\n%s", cmdline, v, out)
				}
			}
		}
	}
	// Every variable lsqbridge reads is documented.
	for _, v := range envRead() {
		if _, ok := envs[v]; !ok {
			t.Errorf("lsqbridge reads %s, which envDocs does not describe", v)
		}
	}
	// A wrong flag still fails, pointing at --help on stderr.
	if code, out, errs, _ := helpRun(getenv, "serve", "--bogus"); code == 0 || out != "" || !strings.Contains(errs, "lsqbridge serve --help") {
		t.Errorf("serve --bogus: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	t.Logf("%d help command lines checked", lines)
}

// TestVersionFromBuildInfo: the version command names the module, the
// commit the binary was built from and the Go version.
func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{}}
	out := c.mustRun("version")
	if !strings.Contains(out, "module   github.com/lsqbridge/lsqbridge ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("in-process version:\n%s", out)
	}

	// A built binary reports the commit its build info holds (`make build`
	// and `make image` ask for it with -buildvcs=auto; a machine's GOFLAGS
	// may turn it off).
	dir := t.TempDir()
	bin := dir + "/lsqbridge"
	if b, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("lsqbridge version: %v\n%s", err, b)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+build\s+vcs\.revision=([0-9a-f]+)$`).FindSubmatch(info)
	switch {
	case m != nil:
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(m[1]) != strings.TrimSpace(string(head)) {
			t.Errorf("the binary was stamped with %s, HEAD is %s", m[1], head)
		}
		if want := "commit   " + string(m[1]); !strings.Contains(string(b), want) {
			t.Errorf("lsqbridge version:\n%s\nwant a line %q", b, want)
		}
	case !strings.Contains(string(b), "commit   unknown"):
		t.Errorf("the build info holds no commit, yet lsqbridge version says:\n%s", b)
	default:
		t.Log("this checkout gives go build no VCS information (a git worktree); the commit line says unknown")
	}
	if !strings.HasPrefix(string(b), "lsqbridge ") || !strings.Contains(string(b), "go       go1.") {
		t.Errorf("lsqbridge version:\n%s", b)
	}
}

// TestLongCommandsShowProgressOnlyOnATerminal: reconcile and `outbox retry
// --all` show a status line on a terminal and nothing in a pipe.
func TestLongCommandsShowProgressOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	w, _ := auditSample(t)
	env := map[string]string{"DATABASE_URL": w.dbURL(), "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_ALLOW_LOOPBACK": "true"}
	pipe, term := &cli{t: t, env: env}, &cli{t: t, env: env, tty: true}

	if code, _, errs := pipe.run("reconcile", "--integration", "demo"); code != 0 || errs != "" {
		t.Errorf("reconcile in a pipe: exit %d, stderr %q; want nothing on stderr", code, errs)
	}
	if code, _, errs := term.run("reconcile", "--integration", "demo"); code != 0 || !strings.Contains(errs, "reconciling demo: ") || !strings.Contains(errs, "\r\033[K") {
		t.Errorf("reconcile on a terminal: exit %d, stderr %q; want a status line", code, errs)
	}

	var dead int64
	check(t, w.pool.QueryRow(w.ctx, "SELECT id FROM outbox WHERE status = 'dead'").Scan(&dead))
	// Its outcome is unknown: --all alone refuses it (and says so), quietly otherwise.
	code, _, errs := pipe.run("outbox", "retry", "--integration", "demo", "--all")
	if code != 1 || !strings.Contains(errs, fmt.Sprintf("action %d", dead)) || strings.Contains(errs, "\r") {
		t.Errorf("retry --all in a pipe: exit %d, stderr %q; want the refusal only", code, errs)
	}
	code, out, errs := term.run("outbox", "retry", "--integration", "demo", "--all", "--force")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("action %d", dead)) || !strings.Contains(errs, "1/1 actions") {
		t.Errorf("retry --all --force on a terminal: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status = 'dead'"); n != 0 {
		t.Errorf("%d dead actions left after retry --all", n)
	}
	if out := pipe.mustRun("outbox", "retry", "--integration", "demo", "--all"); !strings.Contains(out, "no dead actions") {
		t.Errorf("retry --all with none dead: %q", out)
	}
	if code, _, errs := pipe.run("outbox", "retry", "--all"); code == 0 || !strings.Contains(errs, "--all goes with retry --integration ID") {
		t.Errorf("retry --all without --integration: exit %d, stderr %q", code, errs)
	}
}
