package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

const testMasterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

var acmeSecrets = map[string]string{
	"ACME_LSQ_ACCESS_KEY":          "u$r-access-key-AAAA1111",
	"ACME_LSQ_SECRET_KEY":          "secret-key-BBBB2222",
	"ACME_LIMECHAT_API_TOKEN":      "limechat-token-CCCC3333",
	"ACME_LIMECHAT_WEBHOOK_SECRET": "webhook-secret-DDDD4444",
	"ACME_FLOW_BUILDER_KEY":        "flow-key-EEEE5555",
}

func acmeEnv(dbURL string) map[string]string {
	env := map[string]string{"DATABASE_URL": dbURL, "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_PUBLIC_URL": "https://bridge.example.com"}
	for k, v := range acmeSecrets {
		env[k] = v
	}
	return env
}

const examplePath = "../../docs/examples/acme.yaml"

func TestIntegrationApplyCreatesPrintsURLsAndBumpsVersion(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	c := &cli{t: t, env: acmeEnv(dbURL)}

	out := c.mustRun("integration", "apply", "--offline", "-f", examplePath)
	creds := credsFrom(t, out)
	for _, want := range []string{
		"Created integration acme (config version 1)",
		"https://bridge.example.com/v1/webhooks/leadsquared/acme/lead-created",
		"https://bridge.example.com/v1/webhooks/leadsquared/acme/opportunity-stage-changed",
		"X-Lsqbridge-Token: " + creds.LeadSquared + "\n",
		"https://bridge.example.com/v1/webhooks/limechat/acme?token=" + creds.LimeChat + "\n",
		"https://bridge.example.com/v1/webhooks/limechat/acme/automation?token=" + creds.Automation + "\n",
		"https://bridge.example.com/v1/integrations/acme/dashboard-app#key=" + creds.App + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	all := []string{creds.LeadSquared, creds.LimeChat, creds.Automation, creds.App}
	for i, a := range all {
		for _, b := range all[i+1:] {
			if a == b {
				t.Fatal("two powers got the same credential")
			}
		}
	}

	out = c.mustRun("integration", "apply", "--offline", "-f", examplePath)
	if !strings.Contains(out, "Updated integration acme (config version 2)") {
		t.Errorf("second apply: want config version 2:\n%s", out)
	}
	for _, secret := range all {
		if strings.Contains(out, secret) {
			t.Error("second apply printed a credential again; each is shown once")
		}
	}
	if !strings.Contains(out, "X-Lsqbridge-Token: <the leadsquared credential>") || !strings.Contains(out, "?token=<the limechat credential>") {
		t.Errorf("second apply: want placeholders naming each credential:\n%s", out)
	}

	show := c.mustRun("integration", "show", "acme")
	list := c.mustRun("integration", "list")
	for name, secret := range acmeSecrets {
		for what, text := range map[string]string{"show": show, "list": list, "apply": out} {
			if strings.Contains(text, secret) {
				t.Errorf("integration %s prints %s", what, name)
			}
		}
	}
	if !strings.Contains(show, `"config_version": 2`) || !strings.Contains(show, `"id": "acme"`) {
		t.Errorf("show lacks the id or version:\n%s", show)
	}
	assertNoClearSecrets(t, dbURL, append(secretValues(), all...))
}

func TestIntegrationRotateTokenAndDisable(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	c := &cli{t: t, env: acmeEnv(dbURL)}
	first := credsFrom(t, c.mustRun("integration", "apply", "--offline", "-f", examplePath))
	if code, _, errs := c.run("integration", "rotate-token", "acme"); code == 0 || !strings.Contains(errs, "--for leadsquared|limechat|automation|app") {
		t.Errorf("rotate-token without --for: exit %d, %s; want it to ask which credential", code, errs)
	}
	out := c.mustRun("integration", "rotate-token", "acme", "--for", "limechat")
	second := credsFrom(t, out)
	if second.LimeChat == "" || second.LimeChat == first.LimeChat || second.LeadSquared != "" || second.App != "" || second.Automation != "" {
		t.Fatalf("rotate-token --for limechat printed %+v; want a new limechat credential only", second)
	}
	if !strings.Contains(out, "/v1/webhooks/limechat/acme?token="+second.LimeChat) || strings.Contains(out, "/v1/webhooks/leadsquared/") {
		t.Errorf("rotate-token --for limechat: want the new LimeChat URL and nothing else to reconfigure:\n%s", out)
	}
	third := credsFrom(t, c.mustRun("integration", "rotate-token", "--for", "all", "acme"))
	if third.LeadSquared == first.LeadSquared || third.LimeChat == second.LimeChat || third.Automation == first.Automation || third.App == first.App || third.App == "" {
		t.Errorf("rotate-token --for all: %+v; want four new credentials", third)
	}
	show := c.mustRun("integration", "show", "acme")
	if !strings.Contains(show, `"power": "limechat"`) || !strings.Contains(show, `"version": 3`) || strings.Contains(show, `"legacy_shared_token": true`) {
		t.Errorf("show after rotating limechat twice: want its version 3 and no legacy token:\n%s", show)
	}
	if code, _, errs := c.run("integration", "rotate-token", "acme", "--for", "webhook"); code == 0 || !strings.Contains(errs, `unknown credential "webhook"`) {
		t.Errorf("rotate-token --for webhook: exit %d, %s", code, errs)
	}
	if code, _, errs := c.run("integration", "rotate-token", "nope", "--for", "app"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("rotate-token of an unknown id: exit %d, %s", code, errs)
	}
	c.mustRun("integration", "disable", "acme")
	if list := c.mustRun("integration", "list"); !strings.Contains(list, "disabled") {
		t.Errorf("list after disable:\n%s", list)
	}
	if code, _, errs := c.run("integration", "disable", "nope"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("disable of unknown id: exit %d, %s", code, errs)
	}
}

func TestIntegrationApplyErrorsNameTheProblem(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, body string) string {
		p := filepath.Join(t.TempDir(), "cfg.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string
		dropEnv string
		want    string
	}{
		{"unknown top-level key", string(example) + "\ncolour: blue\n", "", "colour: unknown key"},
		{"unknown nested key", strings.Replace(string(example), "  inbox_id: 12", "  inbox_id: 12\n  inbx: 3", 1), "", "limechat.inbx: unknown key"},
		{"unknown key in a rule", strings.Replace(string(example), "    tag: hot-lead", "    tag: hot-lead\n    colour: red", 1), "", "field_tags[0].colour: unknown key"},
		{"missing env variable", string(example), "ACME_LSQ_SECRET_KEY", "leadsquared.secret_key: environment variable ACME_LSQ_SECRET_KEY is not set"},
		{"secret in clear", strings.Replace(string(example), "${ACME_LIMECHAT_API_TOKEN}", "plain-token", 1), "", "limechat.api_token: secrets must be ${ENV} references"},
		{"missing master key", string(example), "LSQBRIDGE_MASTER_KEY", "LSQBRIDGE_MASTER_KEY is not set"},
		{"bad value", strings.Replace(string(example), "requests_per_5s: 5", "requests_per_5s: 500", 1), "", "leadsquared.requests_per_5s: must be between 1 and 100"},
		{"tag_fields rule without a kind", strings.Replace(string(example), "  - tag: wants-callback\n    record: lead\n", "  - tag: wants-callback\n", 1), "",
			"tag_fields[0].record: required: lead or opportunity"},
		{"tag_activities rule without a kind", strings.Replace(string(example), "    record: lead\n    activity_event: 201", "    activity_event: 201", 1), "",
			"tag_activities[0].record: required: lead or opportunity"},
		{"field_tags rule without a kind", strings.Replace(string(example), "  - record: lead\n    field: mx_Interest", "  - field: mx_Interest", 1), "",
			"field_tags[1].record: required: lead or opportunity"},
		{"bad country code", strings.Replace(string(example), `default_country_code: "91"`, `default_country_code: "+91-"`, 1), "",
			"phone.default_country_code: must be a country calling code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := acmeEnv(dbURL)
			delete(env, tt.dropEnv)
			c := &cli{t: t, env: env}
			code, _, errs := c.run("integration", "apply", "--offline", "-f", write(t, tt.file))
			if code == 0 {
				t.Fatal("apply succeeded; want a non-zero exit")
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr does not name the problem %q:\n%s", tt.want, errs)
			}
			if strings.Contains(errs, "plain-token") {
				t.Error("the error repeats a secret written in the file")
			}
		})
	}
	// Wrong-length master key: a clear error that does not echo the key.
	env := acmeEnv(dbURL)
	env["LSQBRIDGE_MASTER_KEY"] = "abcd1234"
	c := &cli{t: t, env: env}
	code, _, errs := c.run("integration", "apply", "--offline", "-f", examplePath)
	if code == 0 || !strings.Contains(errs, "LSQBRIDGE_MASTER_KEY must be 32 bytes") || strings.Contains(errs, "abcd1234") {
		t.Errorf("short master key: exit %d, stderr %s", code, errs)
	}
}

// credsFrom reads the credentials `integration apply` (on creation) or
// `rotate-token` printed: one "  <power>  <secret>" line each.
func credsFrom(t *testing.T, out string) service.Credentials {
	t.Helper()
	_, block, ok := strings.Cut(out, "\nCredentials (")
	if !ok {
		t.Fatalf("no credentials in output:\n%s", out)
	}
	_, block, _ = strings.Cut(block, "\n  ")
	block, _, _ = strings.Cut("  "+block, "\n\n")
	var creds service.Credentials
	for _, line := range strings.Split(block, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("credentials line %q", line)
		}
		p, err := service.ParsePower(f[0])
		if err != nil || !strings.HasPrefix(f[1], "lsqb_"+f[0]+"_") || len(f[1]) < 40 {
			t.Fatalf("credentials line %q: want a power and its lsqb_<power>_ secret", line)
		}
		creds = creds.With(p, f[1])
	}
	return creds
}

func secretValues() []string {
	var out []string
	for _, v := range acmeSecrets {
		out = append(out, v)
	}
	return out
}

// assertNoClearSecrets dumps every stored column of every table as text and
// checks no secret appears in it, in clear text or as plain bytes.
func assertNoClearSecrets(t *testing.T, dbURL string, secrets []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT t::text, (SELECT string_agg(encode(v, 'escape'), '|') FROM
		(SELECT lsq_access_key_sealed v UNION ALL SELECT lsq_secret_key_sealed UNION ALL SELECT limechat_api_token_sealed
		 UNION ALL SELECT limechat_webhook_secret_sealed UNION ALL SELECT flow_builder_key_sealed) s) FROM integrations t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var text, sealed string
		if err := rows.Scan(&text, &sealed); err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			if strings.Contains(text, s) || strings.Contains(sealed, s) || bytes.Contains([]byte(text), []byte(s)) {
				t.Errorf("a stored integration row contains a secret in clear text (%.6s…)", s)
			}
		}
	}
	if n != 1 {
		t.Fatalf("found %d integration rows, want 1", n)
	}
	// Credentials are kept as hashes only.
	crows, err := conn.Query(ctx, `SELECT t::text, encode(coalesce(secret_hash, ''), 'escape') FROM credentials t`)
	if err != nil {
		t.Fatal(err)
	}
	defer crows.Close()
	n = 0
	for crows.Next() {
		var text, raw string
		if err := crows.Scan(&text, &raw); err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			if strings.Contains(text, s) || strings.Contains(raw, s) {
				t.Errorf("a stored credential row contains a secret in clear text (%.6s…)", s)
			}
		}
	}
	if n != 4 {
		t.Errorf("found %d credential rows, want one per power", n)
	}
}

// TestIntegrationApplyChecksFieldNamesAgainstLeadSquared applies against the
// LeadSquared fake: a misspelt field in a rule is refused with its key path,
// the right one passes, and wrong keys are named as such.
func TestIntegrationApplyChecksFieldNamesAgainstLeadSquared(t *testing.T) {
	t.Parallel()
	fake := sandbox.NewLeadSquared(nil, false, nil)
	t.Cleanup(fake.Close)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dbURL := dbtest.NewURL(t)
	yaml := func(field, prefill string, activity int, oppField string) string {
		return fmt.Sprintf(`id: fieldcheck
name: Field check
leadsquared: {host: %s, access_key: "${K}", secret_key: "${S}"}
limechat: {base_url: "http://127.0.0.1:1", account_id: 1, inbox_id: 1, api_token: "${T}"}
sync: {leads: true, opportunities: true, opportunity_types: [12000]}
field_tags:
  - {record: lead, field: %s, value: Villa, tag: villa}
tag_fields:
  - {record: opportunity, tag: callback, set: {%s: "Yes"}}
tag_activities:
  - {record: lead, tag: quote-sent, activity_event: 201}
  - {record: opportunity, tag: quote-sent, activity_event: %d}
form:
  opportunity_type: 12000
  prefill: {%s: contact.name}
`, srv.URL, field, oppField, activity, prefill)
	}
	env := map[string]string{"DATABASE_URL": dbURL, "LSQBRIDGE_MASTER_KEY": testMasterKey, "K": sandbox.LeadSquaredAccessKey, "S": sandbox.LeadSquaredSecretKey, "T": "t",
		"LSQBRIDGE_ALLOW_LOOPBACK": "true"}
	c := &cli{t: t, env: env}
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "cfg.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A misspelt field, a lead field in an opportunity rule, an activity
	// code LeadSquared does not have: each named by its key path.
	code, _, errs := c.run("integration", "apply", "-f", write(yaml("mx_Interst", "mx_Custom_99", 2080, "mx_Callback_Requested")))
	for _, want := range []string{
		`field_tags[0].field: "mx_Interst" is not a LeadSquared lead field`,
		`form.prefill.mx_Custom_99: "mx_Custom_99" is not a field of opportunity type 12000`,
		`tag_fields[0].set.mx_Callback_Requested: "mx_Callback_Requested" is not a field of the configured opportunity types`,
		`tag_activities[1].activity_event: 2080 is not an activity type in LeadSquared`,
	} {
		if code == 0 || !strings.Contains(errs, want) {
			t.Errorf("wrong names: exit %d, want %q in\n%s", code, want, errs)
		}
	}
	if strings.Contains(errs, "tag_activities[0]") {
		t.Errorf("a known activity code was refused:\n%s", errs)
	}
	if out := c.mustRun("integration", "apply", "-f", write(yaml("mx_Interest", "mx_Custom_1", 208, "mx_Custom_7"))); !strings.Contains(out, "Created integration fieldcheck") {
		t.Errorf("correct fields were refused:\n%s", out)
	}
	env["S"] = "wrong-secret"
	code, _, errs = c.run("integration", "apply", "-f", write(yaml("mx_Interest", "mx_Custom_1", 208, "mx_Custom_7")))
	if code == 0 || !strings.Contains(errs, "reading lead metadata with these keys failed") || strings.Contains(errs, "wrong-secret") {
		t.Errorf("wrong keys: exit %d\n%s", code, errs)
	}
}
