package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

// TestUATPassesAgainstSeparateProcesses runs both fakes, lsqbridge serve and
// lsqbridge uat each as its own process, configured only through the CLI
// and the fakes' HTTP APIs — as a real integration would be.
func TestUATPassesAgainstSeparateProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	lsqURL := startFake(t, bin, "leadsquared")
	lcURL := startFake(t, bin, "limechat")

	cfg := fmt.Sprintf(`id: acme
name: Acme (fakes as processes)
leadsquared:
  host: %[1]s
  access_key: ${LSQ_ACCESS}
  secret_key: ${LSQ_SECRET}
  requests_per_5s: 25
limechat:
  base_url: %[2]s
  account_id: 1
  inbox_id: 1
  api_token: ${LC_TOKEN}
flow_builder:
  url: %[2]s
  account_id: %[3]s
  key: ${FB_KEY}
sync:
  leads: true
  opportunities: true
  opportunity_types: [12000]
  initial_labels: [leadsquared]
field_tags:
  - record: lead
    field: mx_Interest
    value: Villa
    tag: interest-villa
  - record: opportunity
    field: mx_Custom_2
    value: Qualified
    tag: opp-qualified
tag_fields:
  - tag: wants-callback
    record: lead
    set: {mx_Callback_Requested: "Yes"}
tag_activities:
  - tag: quote-sent
    record: lead
    activity_event: 201
    note: Quote sent from LimeChat
  - tag: quote-sent
    record: opportunity
    activity_event: 208
    note: Quote sent from LimeChat
campaigns:
  - record: lead
    field: ProspectStage
    to: Qualified
    event: lead_qualified
    data: {first_name: FirstName}
  - record: opportunity
    field: mx_Custom_2
    to: Reachable
    event: opportunity_reachable
    data: {booking: mx_Custom_1}
`, lsqURL, lcURL, sandbox.FlowBuilderAccount)
	file := filepath.Join(dir, "acme.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DATABASE_URL="+dbtest.NewURL(t), "LSQBRIDGE_MASTER_KEY="+testMasterKey,
		"LSQ_ACCESS="+sandbox.LeadSquaredAccessKey, "LSQ_SECRET="+sandbox.LeadSquaredSecretKey, "LC_TOKEN="+sandbox.LimeChatToken, "FB_KEY="+sandbox.FlowBuilderKey,
		"LSQBRIDGE_RECONCILE_EVERY=0", "LSQBRIDGE_ALLOW_LOOPBACK=true")
	runBin := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lsqbridge %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	applied := runBin("integration", "apply", "-f", file)
	creds := credsFrom(t, applied)
	runBin("agents", "refresh", "acme")
	srv := startProcess(t, bin, "serve", env)

	// Configure the platforms' webhooks, as an admin would in their UIs.
	postJSON(t, lsqURL+"/_person/webhooks", map[string]any{
		"url_base": srv.url + "/v1/webhooks/leadsquared/acme", "header": map[string]string{"X-Lsqbridge-Token": creds.LeadSquared}})
	postJSON(t, lcURL+"/_person/webhooks", map[string]any{"url": srv.url + "/v1/webhooks/limechat/acme?token=" + creds.LimeChat})

	out := runBin("uat", "--integration", "acme", "--timeout", "20s")
	if !strings.Contains(out, "uat: 10 passed, 0 failed") {
		t.Fatalf("uat against processes:\n%s", out)
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("serve did not exit cleanly: %v", err)
	}
}

// startFake runs `lsqbridge fake NAME` and returns its URL.
func startFake(t *testing.T, bin, name string) string {
	t.Helper()
	cmd := exec.Command(bin, "fake", name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("fake %s said nothing: %v", name, err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), " on ")
	if !ok {
		t.Fatalf("fake %s: unexpected first line %q", name, line)
	}
	return url
}

func postJSON(t *testing.T, url string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}
