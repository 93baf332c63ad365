package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
)

const deployDocPath = "../../docs/deploy.md"

// fencedBlocks returns the bodies of the doc's ```lang code blocks.
func fencedBlocks(t *testing.T, doc, lang string) []string {
	t.Helper()
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	return out
}

// k8sObject is the part of a manifest the test reads.
type k8sObject struct {
	Kind     string
	Metadata struct{ Name string }
	Spec     struct {
		Template struct {
			Spec podSpec
		}
	}
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []struct {
		Args []string
		Env  []struct {
			Name      string
			Value     string
			ValueFrom *struct {
				SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		}
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
	}
}

type probe struct {
	HTTPGet struct{ Path string } `yaml:"httpGet"`
}

// envRead lists the environment variables lsqbridge's settings come from.
func envRead() []string {
	var read []string
	app.ConfigFromEnv(func(k string) string { read = append(read, k); return "" })
	return read
}

// TestDeployDocManifests reads docs/deploy.md's manifests and unit and
// checks them against the binary: probes on /healthz and /readyz, the
// grace period the shutdown needs, secrets as environment variables from
// a Secret, a migration Job, only settings lsqbridge reads; and the README
// links the page.
func TestDeployDocManifests(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(deployDocPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	known := envRead()
	secrets := []string{"DATABASE_URL", "LSQBRIDGE_MASTER_KEY"}

	objects := map[string]k8sObject{}
	for _, block := range fencedBlocks(t, doc, "yaml") {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(block)))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("a yaml block of docs/deploy.md does not parse: %v\n%s", err, block)
			}
			objects[o.Kind] = o
		}
	}
	for _, kind := range []string{"Secret", "Job", "Deployment", "Service"} {
		if _, ok := objects[kind]; !ok {
			t.Errorf("docs/deploy.md has no %s manifest", kind)
		}
	}

	checkEnv := func(kind string, spec podSpec) {
		t.Helper()
		fromSecret := map[string]bool{}
		for _, c := range spec.Containers {
			for _, e := range c.Env {
				if !slices.Contains(known, e.Name) {
					t.Errorf("%s sets %s, which lsqbridge does not read", kind, e.Name)
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					fromSecret[e.Name] = true
				}
				if slices.Contains(secrets, e.Name) && e.Value != "" {
					t.Errorf("%s writes %s in the manifest; it belongs in a Secret", kind, e.Name)
				}
			}
		}
		if !fromSecret["DATABASE_URL"] {
			t.Errorf("%s does not take DATABASE_URL from a Secret", kind)
		}
		if !spec.SecurityContext.RunAsNonRoot {
			t.Errorf("%s does not set runAsNonRoot", kind)
		}
	}

	job := objects["Job"].Spec.Template.Spec
	if len(job.Containers) != 1 || !slices.Equal(job.Containers[0].Args, []string{"migrate", "up"}) {
		t.Errorf("the Job does not run `migrate up`: %+v", job.Containers)
	}
	checkEnv("Job", job)

	dep := objects["Deployment"].Spec.Template.Spec
	checkEnv("Deployment", dep)
	if dep.TerminationGracePeriodSeconds < 30 {
		t.Errorf("terminationGracePeriodSeconds %d; the shutdown needs 15 s, recommend 30", dep.TerminationGracePeriodSeconds)
	}
	if len(dep.Containers) != 1 {
		t.Fatalf("the Deployment has %d containers", len(dep.Containers))
	}
	c := dep.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("the Deployment runs %v, want serve", c.Args)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", c.ReadinessProbe)
	}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	for _, s := range secrets {
		if !slices.Contains(names, s) {
			t.Errorf("the Deployment does not set %s", s)
		}
	}

	// The systemd unit and its environment file.
	units := fencedBlocks(t, doc, "ini")
	if len(units) != 1 {
		t.Fatalf("docs/deploy.md has %d systemd units, want 1", len(units))
	}
	unit := units[0]
	for _, want := range []string{"ExecStartPre=/usr/local/bin/lsqbridge migrate up", "ExecStart=/usr/local/bin/lsqbridge serve",
		"EnvironmentFile=/etc/lsqbridge/env", "KillSignal=SIGTERM"} {
		if !strings.Contains(unit, want+"\n") {
			t.Errorf("the unit has no line %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Error("the unit sets no TimeoutStopSec")
	} else if n, _ := strconv.Atoi(m[1]); n < 30 {
		t.Errorf("TimeoutStopSec=%d, want at least 30", n)
	}
	envFile := ""
	for _, block := range fencedBlocks(t, doc, "sh") {
		if strings.HasPrefix(block, "DATABASE_URL=") {
			envFile = block
		}
	}
	if envFile == "" {
		t.Error("docs/deploy.md shows no /etc/lsqbridge/env")
	}
	for _, line := range strings.Split(strings.TrimSpace(envFile), "\n") {
		name, _, _ := strings.Cut(line, "=")
		if !slices.Contains(known, name) {
			t.Errorf("/etc/lsqbridge/env sets %s, which lsqbridge does not read", name)
		}
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "](docs/deploy.md)") {
		t.Error("README.md does not link docs/deploy.md")
	}
	if strings.Contains(doc, "../shared") {
		t.Error("docs/deploy.md links outside the repository (../shared)")
	}
}
