package main

import (
	"strings"
	"testing"
)

// TestIntegrationValidateOffline: validate needs neither a database nor
// the secrets' variables, passes the example, and names every mistake of
// a file with three, each with its key path.
func TestIntegrationValidateOffline(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{}} // no DATABASE_URL, no secrets
	out := c.mustRun("integration", "validate", "-f", examplePath)
	if !strings.Contains(out, "acme.yaml: valid") {
		t.Errorf("validate of the example printed:\n%s", out)
	}

	code, out, errs := c.run("integration", "validate", "-f", "../../testdata/config/three-mistakes.yaml")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := []string{
		`leadsquared.requests_per_5s: must be a whole number (got "fast")`,
		"field_tags[1].colour: unknown key",
		`campaigns[1].record: must be lead or opportunity (got "opportunty")`,
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("printed %d problems, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d = %q, want it to end %q", i+1, lines[i], w)
		}
	}
	if !strings.Contains(errs, "3 problems") {
		t.Errorf("stderr %q does not count the problems", errs)
	}

	if code, _, errs := c.run("integration", "validate"); code == 0 || !strings.Contains(errs, "validate needs -f FILE") {
		t.Errorf("validate without -f: exit %d, stderr %q", code, errs)
	}
}
