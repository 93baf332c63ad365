package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

// The canonical refusals: every refused request on a route gets exactly
// this answer, whatever the reason.
const (
	refusedLeadSquared = `{"Status":"Error","StatusReason":"not authorized"}` + "\n"
	refusedJSON        = `{"error":"not authorized"}` + "\n"
)

// gateRoute is one route of an integration, as the credential tests drive it.
type gateRoute struct {
	name   string
	method string
	path   string
	body   string
	// own presents the route's own credential the way its caller does;
	// link routes take a signed link instead (ownLink).
	own     func(secret string) carrier
	power   service.Power
	refused string // the canonical refusal body ("" = the HTML page's, compared across requests)
	// okStatus is the answer once admitted (a submit with a bad date is 422).
	okStatus int
}

// carrier is how a credential travels: headers and a query string.
type carrier struct {
	header map[string]string
	query  string
}

func inHeader(name string) func(string) carrier {
	return func(s string) carrier { return carrier{header: map[string]string{name: s}} }
}

func inQuery(s string) carrier { return carrier{query: "token=" + url.QueryEscape(s)} }

// everyCarrier presents a secret in each place any route takes one.
func everyCarrier(secret string) map[string]carrier {
	return map[string]carrier{
		"X-Lsqbridge-Token":   {header: map[string]string{"X-Lsqbridge-Token": secret}},
		"?token=":             inQuery(secret),
		"X-Lsqbridge-App-Key": {header: map[string]string{"X-Lsqbridge-App-Key": secret}},
	}
}

// linkCarrier presents a signed link ("/…/page?exp=&sig=") in headers.
func linkCarrier(t *testing.T, path string) carrier {
	t.Helper()
	u, err := url.Parse(path)
	if err != nil || u.Query().Get("sig") == "" {
		t.Fatalf("not a signed link: %q", path)
	}
	return carrier{header: map[string]string{"X-Lsqbridge-Link-Expires": u.Query().Get("exp"), "X-Lsqbridge-Link-Signature": u.Query().Get("sig")}}
}

// hit sends one request to base and returns the status, body and content type.
func hit(t *testing.T, base string, r gateRoute, c carrier) (int, string, string) {
	t.Helper()
	u := base + r.path
	if c.query != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + c.query
	}
	req, err := http.NewRequest(r.method, u, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type")
}

// gateRoutes are every credentialed route of integration id, for ticket
// (a conversation of its inbox) and the ticket's contact.
func gateRoutes(id string, ticket, contact int64) []gateRoute {
	form := fmt.Sprintf("/v1/integrations/%s/tickets/%d/opportunity-form", id, ticket)
	automation := fmt.Sprintf(`{"event":"automation_event.conversation_created","id":%d,"inbox_id":1,"status":"open","meta":{"sender":{"id":%d}}}`, ticket, contact)
	return []gateRoute{
		{name: "leadsquared webhook", method: http.MethodPost, path: "/v1/webhooks/leadsquared/" + id + "/lead-updated",
			own: inHeader("X-Lsqbridge-Token"), power: service.PowerLeadSquared, refused: refusedLeadSquared, okStatus: 200},
		{name: "limechat webhook", method: http.MethodPost, path: "/v1/webhooks/limechat/" + id,
			body: `{"event":"message_created","id":1}`, own: inQuery, power: service.PowerLimeChat, refused: refusedJSON, okStatus: 200},
		{name: "automation webhook", method: http.MethodPost, path: "/v1/webhooks/limechat/" + id + "/automation",
			body: automation, own: inQuery, power: service.PowerAutomation, refused: refusedJSON, okStatus: 200},
		{name: "form link", method: http.MethodGet, path: form + "/link",
			own: inHeader("X-Lsqbridge-App-Key"), power: service.PowerApp, refused: refusedJSON, okStatus: 200},
		{name: "dashboard config", method: http.MethodGet, path: "/v1/integrations/" + id + "/dashboard-app/config",
			own: inHeader("X-Lsqbridge-App-Key"), power: service.PowerApp, refused: refusedJSON, okStatus: 200},
		{name: "form", method: http.MethodGet, path: form, refused: refusedJSON, okStatus: 200},
		{name: "form submit", method: http.MethodPost, path: form, body: `{"fields":{"mx_Custom_4":"20/12/2026"}}`, refused: refusedJSON, okStatus: 422},
		{name: "page", method: http.MethodGet, path: form + "/page", okStatus: 200},
	}
}

// gateYAML is an integration on the fakes, with the opportunity form.
const gateYAML = `id: gate
name: Credential gate
leadsquared: {host: %s, access_key: "${GATE_LSQ_ACCESS}", secret_key: "${GATE_LSQ_SECRET}"}
limechat: {base_url: %s, account_id: 1, inbox_id: 1, api_token: "${GATE_LC_TOKEN}"}
sync: {leads: true}
form:
  opportunity_type: 12000
  prefill: {mx_Custom_1: contact.name}
  incomplete_tag: form-incomplete
`

// TestEveryRouteTakesOnlyItsOwnCurrentCredentialInEveryProcess runs two
// `lsqbridge serve` processes, rotates each credential with the CLI, and
// right away presents every credential to every route of both: the route's
// own current one is accepted; another route's (in every place any route
// takes one), the one just rotated away and none are refused, with the
// route's one refusal answer. `integration disable` then closes every
// route of both at once. Nothing waits for a cache: both processes were
// warmed up with the old credentials just before.
func TestEveryRouteTakesOnlyItsOwnCurrentCredentialInEveryProcess(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	lsq := sandbox.NewLeadSquared(nil, false, nil)
	lc := sandbox.NewLimeChat(nil, nil)
	lsqSrv, lcSrv := httptest.NewServer(lsq), httptest.NewServer(lc)
	t.Cleanup(func() {
		lsqSrv.Close()
		lcSrv.Close()
		lsq.Close()
		lc.Close()
	})
	env := append(os.Environ(), "DATABASE_URL="+dbtest.NewURL(t), "LSQBRIDGE_MASTER_KEY="+testMasterKey,
		"LSQBRIDGE_ALLOW_LOOPBACK=true", "LSQBRIDGE_RECONCILE_EVERY=0",
		"GATE_LSQ_ACCESS="+sandbox.LeadSquaredAccessKey, "GATE_LSQ_SECRET="+sandbox.LeadSquaredSecretKey, "GATE_LC_TOKEN="+sandbox.LimeChatToken)
	cliRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("lsqbridge %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	cfg := filepath.Join(tmp, "gate.yaml")
	check(t, os.WriteFile(cfg, fmt.Appendf(nil, gateYAML, lsqSrv.URL, lcSrv.URL), 0o600))
	old := credsFrom(t, cliRun("integration", "apply", "-f", cfg))
	tk, err := lc.CreateConversationByPerson(service.Contact{Name: "Gita Nair", Phone: "+919800011111"})
	check(t, err)
	routes := gateRoutes("gate", tk.ID, tk.Contact.ID)
	procs := []*process{startProcess(t, bin, "serve A", env), startProcess(t, bin, "serve B", env)}

	// linkFrom asks a process for a signed page link with an app key.
	linkFrom := func(p *process, appKey string) string {
		t.Helper()
		status, body, _ := hit(t, p.url, routes[3], inHeader("X-Lsqbridge-App-Key")(appKey))
		var l struct{ Path string }
		if status != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil {
			t.Fatalf("%s: form link with the app key = %d %s", p.name, status, body)
		}
		return l.Path
	}
	// ownCarrier is how route r takes its own credential from creds (a
	// link signed with creds.App for the link routes).
	ownCarrier := func(p *process, r gateRoute, creds service.Credentials, link string) carrier {
		if r.own == nil {
			return linkCarrier(t, link)
		}
		return r.own(creds.Get(r.power))
	}

	// Warm-up: every route of both processes accepts the first credentials
	// (and would cache them, if anything cached them).
	oldLink := linkFrom(procs[0], old.App)
	for _, p := range procs {
		for _, r := range routes {
			if status, body, _ := hit(t, p.url, r, ownCarrier(p, r, old, oldLink)); status != r.okStatus {
				t.Fatalf("%s %s with its own credential before any rotation = %d %s", p.name, r.name, status, body)
			}
		}
	}

	// Rotated alone: a new leadsquared credential leaves the others alone.
	cur := credsFrom(t, cliRun("integration", "rotate-token", "gate", "--for", "leadsquared"))
	for _, p := range procs {
		if status, _, _ := hit(t, p.url, routes[0], routes[0].own(old.LeadSquared)); status != http.StatusUnauthorized {
			t.Errorf("%s: the rotated-away leadsquared credential = %d right after rotate-token, want 401", p.name, status)
		}
		if status, body, _ := hit(t, p.url, routes[1], routes[1].own(old.LimeChat)); status != http.StatusOK {
			t.Errorf("%s: rotating leadsquared refused the limechat credential: %d %s", p.name, status, body)
		}
	}
	for _, pw := range []string{"limechat", "automation", "app"} {
		got := credsFrom(t, cliRun("integration", "rotate-token", "gate", "--for", pw))
		p, _ := service.ParsePower(pw)
		cur = cur.With(p, got.Get(p))
	}
	curLink := linkFrom(procs[1], cur.App)

	type attempt struct {
		what string
		c    carrier
		ok   bool
	}
	checked := 0
	for _, r := range routes {
		var attempts []attempt
		attempts = append(attempts, attempt{"its own current credential", ownCarrier(nil, r, cur, curLink), true})
		attempts = append(attempts, attempt{"no credential", carrier{}, false})
		attempts = append(attempts, attempt{"its rotated-away credential", ownCarrier(nil, r, old, oldLink), false})
		for _, p := range service.Powers {
			if p == r.power {
				continue
			}
			for where, c := range everyCarrier(cur.Get(p)) {
				attempts = append(attempts, attempt{"the " + string(p) + " credential in " + where, c, false})
			}
		}
		if r.own == nil { // a link route: the app key itself is not a link
			for where, c := range everyCarrier(cur.App) {
				attempts = append(attempts, attempt{"the app key in " + where, c, false})
			}
		}
		pageRefusal := ""
		for _, p := range procs {
			for _, a := range attempts {
				status, body, ctype := hit(t, p.url, r, a.c)
				checked++
				switch {
				case a.ok && status != r.okStatus:
					t.Errorf("%s %s with %s = %d %s; want it accepted", p.name, r.name, a.what, status, body)
				case !a.ok && status != http.StatusUnauthorized:
					t.Errorf("%s %s with %s = %d %s; want 401", p.name, r.name, a.what, status, body)
				case !a.ok && r.refused != "" && body != r.refused:
					t.Errorf("%s %s with %s answered %q; want the route's one refusal %q", p.name, r.name, a.what, body, r.refused)
				case !a.ok && r.refused == "":
					if pageRefusal == "" {
						pageRefusal = body
					}
					if body != pageRefusal || !strings.HasPrefix(ctype, "text/html") {
						t.Errorf("%s %s with %s answered another refusal page:\n%s", p.name, r.name, a.what, body)
					}
				}
			}
		}
	}
	t.Logf("%d requests over %d routes × 2 processes", checked, len(routes))

	// Disable: every route of both processes refuses even its own current
	// credential, at once and with the same answer.
	cliRun("integration", "disable", "gate")
	for _, p := range procs {
		for _, r := range routes {
			status, body, _ := hit(t, p.url, r, ownCarrier(p, r, cur, curLink))
			if status != http.StatusUnauthorized || (r.refused != "" && body != r.refused) {
				t.Errorf("%s %s right after disable = %d %q; want the route's refusal", p.name, r.name, status, body)
			}
		}
	}

	// The processes logged why, never what.
	secrets := []string{old.LeadSquared, old.LimeChat, old.Automation, old.App, cur.LeadSquared, cur.LimeChat, cur.Automation, cur.App}
	for _, p := range procs {
		logs := p.logs.String()
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("%s logged a credential", p.name)
			}
		}
		for _, reason := range []string{`"reason":"rotated_credential"`, `"reason":"wrong_credential"`, `"reason":"no_credential"`,
			`"reason":"disabled"`, `"reason":"bad_link"`, `"credential_of":"limechat"`, `"credential":"` + service.Fingerprint(old.LimeChat) + `"`} {
			if !strings.Contains(logs, reason) {
				t.Errorf("%s never logged a refusal with %s", p.name, reason)
			}
		}
	}
}

// inProcess serves lsqbridge's HTTP API on dbURL in this process (no
// workers) and returns its URL and logs.
func inProcess(t *testing.T, dbURL string) (string, *syncedBuffer) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs := &syncedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), app.Config{MasterKey: testMasterKey, RelayWorkers: 1, AllowLoopback: true}, pool, log, app.Options{NoRelay: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

// TestLimeChatWebhookURLFromApplyOpensOnlyTheLimeChatRoute takes the
// LimeChat webhook URL `integration apply` prints — the one anyone who can
// read LimeChat's webhook settings sees — and posts with its token to every
// other route, in every place they take a credential: all refuse it. The
// URL itself works for LimeChat deliveries, and only signed ones, since the
// example configures a webhook secret.
func TestLimeChatWebhookURLFromApplyOpensOnlyTheLimeChatRoute(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	c := &cli{t: t, env: acmeEnv(dbURL)}
	out := c.mustRun("integration", "apply", "--offline", "-f", examplePath)
	const prefix = "https://bridge.example.com/v1/webhooks/limechat/acme?token="
	i := strings.Index(out, prefix)
	if i < 0 {
		t.Fatalf("apply printed no LimeChat webhook URL:\n%s", out)
	}
	printed, _, _ := strings.Cut(out[i:], "\n")
	u, err := url.Parse(printed)
	check(t, err)
	token := u.Query().Get("token")
	if token == "" || token != credsFrom(t, out).LimeChat {
		t.Fatalf("the printed LimeChat URL %q does not carry the limechat credential", printed)
	}
	base, _ := inProcess(t, dbURL)

	// The URL works for LimeChat, signed with the webhook secret only.
	body := `{"event":"message_created","id":7}`
	post := func(path string, header map[string]string, body string) (int, string) {
		status, b, _ := hit(t, base, gateRoute{method: http.MethodPost, path: path, body: body}, carrier{header: header})
		return status, b
	}
	ts, sig := limechat.Sign([]byte(acmeSecrets["ACME_LIMECHAT_WEBHOOK_SECRET"]), time.Now(), []byte(body))
	if status, b := post(u.RequestURI(), map[string]string{"X-Chatwoot-Timestamp": ts, "X-Chatwoot-Signature": sig}, body); status != http.StatusOK {
		t.Fatalf("a signed delivery to the printed URL = %d %s", status, b)
	}
	if status, b := post(u.RequestURI(), nil, body); status != http.StatusUnauthorized || b != refusedJSON {
		t.Errorf("an unsigned delivery to the printed URL = %d %s; want the refusal (a webhook secret is configured)", status, b)
	}

	routes := gateRoutes("acme", 42, 1)
	tried := 0
	for _, r := range routes {
		if r.power == service.PowerLimeChat {
			continue
		}
		for where, cr := range everyCarrier(token) {
			status, b, _ := hit(t, base, r, cr)
			tried++
			if status != http.StatusUnauthorized || (r.refused != "" && b != r.refused) {
				t.Errorf("%s with the LimeChat URL's token in %s = %d %s; want it refused", r.name, where, status, b)
			}
		}
	}
	if tried < 20 {
		t.Fatalf("tried %d requests; want every other route in every carrier", tried)
	}
}

// addIntegration applies another integration on the world's fakes and
// returns its credentials.
func (w *world) addIntegration(id string, inbox int64, rules service.Rules) service.Credentials {
	w.t.Helper()
	cfg := &service.IntegrationConfig{
		ID: id, Name: "Another " + id,
		LeadSquared: service.LeadSquaredConfig{Host: w.LSQURL, AccessKey: sandbox.LeadSquaredAccessKey, SecretKey: sandbox.LeadSquaredSecretKey, RequestsPer5s: 25},
		LimeChat:    service.LimeChatConfig{BaseURL: w.LCURL, AccountID: 1, InboxID: inbox, APIToken: sandbox.LimeChatToken},
		FlowBuilder: service.FlowBuilderConfig{URL: w.LCURL, AccountID: sandbox.FlowBuilderAccount, Key: sandbox.FlowBuilderKey},
		Rules:       rules, AllowLoopback: true,
	}
	check(w.t, cfg.Validate())
	res := must[service.ApplyResult](w.t)(w.App.Integrations.Apply(w.ctx, cfg))
	if !res.Created {
		w.t.Fatalf("integration %s existed", id)
	}
	return res.Credentials
}

// appLink asks integration id for a form link to ticket with an app key.
func (w *world) appLink(id, key string, ticket int64) (answer, string) {
	w.t.Helper()
	a := w.call(http.MethodGet, fmt.Sprintf("/v1/integrations/%s/tickets/%d/opportunity-form/link", id, ticket),
		map[string]string{"X-Lsqbridge-App-Key": key}, nil)
	var l struct{ Path string }
	if a.status == http.StatusOK {
		a.decode(w.t, &l)
	}
	return a, l.Path
}

// TestDashboardAppKeyOpensOnlyItsInboxAtItsRate: an app key signs links for
// tickets of its own integration's inbox only — not another integration's
// ticket, not an unlinked ticket of another inbox, not an unknown one, all
// answered alike — no more often than form.app_links_per_minute (counted
// before the ticket is looked at, per key, refilled by a rotation), and its
// rotation voids every link it signed.
func TestDashboardAppKeyOpensOnlyItsInboxAtItsRate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Lina", "EmailAddress": "lina@example.com",
		"Phone": "+91-9800022222", "OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle()
	leadTicket := w.ticketOf(lead.ID) // linked to demo
	customer := w.customerTicket(service.Contact{Name: "Omar Ali", Phone: "+919800033333"}, nil, "")
	rules := sandbox.DemoRules()
	rules.Form.AppLinksPerMinute = 3
	// narrow is another integration on the same LimeChat account, inbox 2.
	narrow := w.addIntegration("narrow", 2, rules)

	for _, tk := range []int64{customer.ID, leadTicket.ID} {
		if a, _ := w.appLink("demo", w.Creds.App, tk); a.status != http.StatusOK {
			t.Fatalf("demo's key for its own ticket %d = %d %s", tk, a.status, a.body)
		}
	}
	var notFound []byte
	for _, c := range []struct {
		what   string
		ticket int64
	}{
		{"an unlinked ticket of another inbox", customer.ID},
		{"another integration's ticket", leadTicket.ID},
		{"a ticket LimeChat does not know", 999999},
	} {
		a, _ := w.appLink("narrow", narrow.App, c.ticket)
		if a.status != http.StatusNotFound || !strings.Contains(string(a.body), "no such ticket in this integration's LimeChat inbox") {
			t.Errorf("narrow's key for %s = %d %s; want 404", c.what, a.status, a.body)
		}
		if notFound != nil && !bytes.Equal(a.body, notFound) {
			t.Errorf("narrow's key for %s answered %s, unlike %s", c.what, a.body, notFound)
		}
		notFound = a.body
	}
	// Three links a minute, spent: the fourth is refused whatever it asks.
	a, _ := w.appLink("narrow", narrow.App, customer.ID)
	secs, _ := strconv.Atoi(a.header.Get("Retry-After"))
	if a.status != http.StatusTooManyRequests || secs < 1 || secs > 20 {
		t.Errorf("narrow's fourth link in a minute = %d %s (Retry-After %q); want 429 with Retry-After of about 20s", a.status, a.body, a.header.Get("Retry-After"))
	}
	if a, _ := w.appLink("demo", w.Creds.App, customer.ID); a.status != http.StatusOK {
		t.Errorf("demo's key was limited by narrow's: %d %s", a.status, a.body)
	}
	// A rotation gives a new key with a full bucket; the old one is refused.
	newNarrow := must[string](t)(w.App.Integrations.Rotate(w.ctx, "narrow", service.PowerApp))
	if a, _ := w.appLink("narrow", newNarrow, 999999); a.status != http.StatusNotFound {
		t.Errorf("narrow's rotated key = %d %s; want a fresh bucket", a.status, a.body)
	}
	if a, _ := w.appLink("narrow", narrow.App, 999999); a.status != http.StatusUnauthorized {
		t.Errorf("narrow's old key after rotation = %d %s; want 401", a.status, a.body)
	}

	// Rotating demo's key voids the links it signed, on the form and the page.
	_, link := w.appLink("demo", w.Creds.App, customer.ID)
	lc := linkCarrier(t, link)
	if a := w.call(http.MethodGet, formPath(customer.ID), lc.header, nil); a.status != http.StatusOK {
		t.Fatalf("form with a fresh link = %d %s", a.status, a.body)
	}
	if a := w.call(http.MethodGet, link, nil, nil); a.status != http.StatusOK {
		t.Fatalf("page with a fresh link = %d %s", a.status, a.body)
	}
	onNarrow := strings.Replace(link, "/integrations/demo/", "/integrations/narrow/", 1)
	if a := w.call(http.MethodGet, onNarrow, nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("demo's link on narrow's path = %d; want 401", a.status)
	}
	newApp := must[string](t)(w.App.Integrations.Rotate(w.ctx, "demo", service.PowerApp))
	if a := w.call(http.MethodGet, formPath(customer.ID), lc.header, nil); a.status != http.StatusUnauthorized || string(a.body) != refusedJSON {
		t.Errorf("form with a link the rotated key signed = %d %s; want the refusal", a.status, a.body)
	}
	if a := w.call(http.MethodGet, link, nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("page with a link the rotated key signed = %d; want 401", a.status)
	}
	if a, _ := w.appLink("demo", w.Creds.App, customer.ID); a.status != http.StatusUnauthorized {
		t.Errorf("demo's old key = %d %s; want 401", a.status, a.body)
	}
	a, link = w.appLink("demo", newApp, customer.ID)
	if a.status != http.StatusOK {
		t.Fatalf("demo's new key = %d %s", a.status, a.body)
	}
	if a := w.call(http.MethodGet, formPath(customer.ID), linkCarrier(t, link).header, nil); a.status != http.StatusOK {
		t.Errorf("form with the new key's link = %d %s", a.status, a.body)
	}
}

// TestRefusalsLookTheSame: on every route, an unknown integration, a wrong
// credential, a disabled integration with its right credential and (on the
// LimeChat route) a right token with a bad signature get the same status,
// body and content type; the Dashboard App page is the same for all of them.
func TestRefusalsLookTheSame(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *worldOptions) { o.Signed = true })
	customer := w.customerTicket(service.Contact{Name: "Ravi Das", Phone: "+919800044444"}, nil, "")
	off := w.addIntegration("off", 1, sandbox.DemoRules())
	_, offLink := w.appLink("off", off.App, customer.ID)
	check(t, w.App.Integrations.Disable(w.ctx, "off"))
	_, demoLink := w.appLink("demo", w.Creds.App, customer.ID)

	wrong := func(p service.Power) string { return "lsqb_" + string(p) + "_" + strings.Repeat("A", 43) }
	own := func(r gateRoute, creds service.Credentials, link string) carrier {
		if r.own == nil {
			return linkCarrier(t, link)
		}
		return r.own(creds.Get(r.power))
	}
	for i, r := range gateRoutes("demo", customer.ID, customer.Contact.ID) {
		type variant struct {
			what string
			r    gateRoute
			c    carrier
		}
		unknown := gateRoutes("nope", customer.ID, customer.Contact.ID)[i]
		disabled := gateRoutes("off", customer.ID, customer.Contact.ID)[i]
		variants := []variant{
			{"unknown integration", unknown, own(unknown, w.Creds, demoLink)},
			{"wrong credential", r, own(r, service.Credentials{LeadSquared: wrong("leadsquared"), LimeChat: wrong("limechat"),
				Automation: wrong("automation"), App: wrong("app")}, strings.Replace(demoLink, "sig=", "sig=A", 1))},
			{"disabled integration, right credential", disabled, own(disabled, off, offLink)},
		}
		if r.power == service.PowerLimeChat {
			bad := own(r, w.Creds, "")
			bad.header = map[string]string{"X-Chatwoot-Timestamp": strconv.FormatInt(time.Now().Unix(), 10), "X-Chatwoot-Signature": "sha256=" + strings.Repeat("0", 64)}
			variants = append(variants, variant{"right token, bad signature", r, bad})
		}
		var first struct {
			status      int
			body, ctype string
		}
		for j, v := range variants {
			status, body, ctype := hit(t, w.URL, v.r, v.c)
			if j == 0 {
				first.status, first.body, first.ctype = status, body, ctype
				if status != http.StatusUnauthorized {
					t.Errorf("%s, %s = %d %s; want 401", r.name, v.what, status, body)
				}
				continue
			}
			if status != first.status || body != first.body || ctype != first.ctype {
				t.Errorf("%s: %s answered %d %s %q; %s answered %d %s %q", r.name, v.what, status, ctype, body, variants[0].what, first.status, first.ctype, first.body)
			}
		}
	}
	// The Dashboard App page holds nothing and is the same for every id.
	page := w.call(http.MethodGet, "/v1/integrations/demo/dashboard-app", nil, nil)
	for _, id := range []string{"nope", "off"} {
		other := w.call(http.MethodGet, "/v1/integrations/"+id+"/dashboard-app", nil, nil)
		if other.status != page.status || !bytes.Equal(other.body, page.body) {
			t.Errorf("the Dashboard App page of %s differs from demo's", id)
		}
	}
	// The reasons are counted for alerts, and nowhere shown to the caller.
	metrics := string(w.call(http.MethodGet, "/metrics", nil, nil).body)
	for _, series := range []string{`lsqbridge_requests_refused_total{reason="disabled",route="leadsquared"}`,
		`lsqbridge_requests_refused_total{reason="unknown_integration",route="page"}`,
		`lsqbridge_requests_refused_total{reason="bad_signature",route="limechat"}`,
		`lsqbridge_requests_refused_total{reason="bad_link",route="form"}`} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	// LeadSquared's URL check (HEAD) answers alike too.
	for _, id := range []string{"demo", "nope", "off"} {
		if a := w.call(http.MethodHead, "/v1/webhooks/leadsquared/"+id+"/lead-created", nil, nil); a.status != http.StatusOK || len(a.body) != 0 {
			t.Errorf("HEAD for %s = %d", id, a.status)
		}
	}
}

// legacyAppKey is the Dashboard App key lsqbridge derived from the shared
// webhook token before migration 00010, written out here from that
// release's form_link.go: HMAC(HMAC(Derive("form-links", id, tokenHash),
// "lsqbridge:dashboard-app:v1"), id), base64url.
func legacyAppKey(t *testing.T, id string, tokenHash []byte) (key string, linkSecret []byte) {
	t.Helper()
	sealer, err := service.NewSealer(testMasterKey)
	check(t, err)
	linkSecret = sealer.Derive("form-links", id, string(tokenHash))
	m := hmac.New(sha256.New, linkSecret)
	m.Write([]byte("lsqbridge:dashboard-app:v1"))
	m = hmac.New(sha256.New, m.Sum(nil))
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), linkSecret
}

// TestMigratedIntegrationKeepsItsURLsUntilEachFirstRotation takes an
// integration as it was before migration 00010 (one shared webhook token,
// the Dashboard App key and form links derived from it), migrates up, and
// shows every URL configured then still works; each power stops taking the
// shared token at its own first rotation, and only then.
func TestMigratedIntegrationKeepsItsURLsUntilEachFirstRotation(t *testing.T) {
	t.Parallel()
	lsq := sandbox.NewLeadSquared(nil, false, nil)
	lc := sandbox.NewLimeChat(nil, nil)
	lsqSrv, lcSrv := httptest.NewServer(lsq), httptest.NewServer(lc)
	t.Cleanup(func() {
		lsqSrv.Close()
		lcSrv.Close()
		lsq.Close()
		lc.Close()
	})
	dbURL := dbtest.NewURL(t)
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": dbURL, "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_ALLOW_LOOPBACK": "true",
		"GATE_LSQ_ACCESS": sandbox.LeadSquaredAccessKey, "GATE_LSQ_SECRET": sandbox.LeadSquaredSecretKey, "GATE_LC_TOKEN": sandbox.LimeChatToken}}
	file := filepath.Join(t.TempDir(), "gate.yaml")
	check(t, os.WriteFile(file, fmt.Appendf(nil, gateYAML, lsqSrv.URL, lcSrv.URL), 0o600))
	c.mustRun("integration", "apply", "-f", file)

	// Back to the schema before 00010, with the row as that release kept it.
	c.mustRun("migrate", "down", "--to", "9")
	const shared = "pre-00010-shared-webhook-token-kept-in-platform-settings"
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	check(t, err)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE integrations SET webhook_token_hash = $1 WHERE id = 'gate'", service.HashToken(shared)); err != nil {
		t.Fatal(err)
	}
	appKey, linkSecret := legacyAppKey(t, "gate", service.HashToken(shared))
	tk, err := lc.CreateConversationByPerson(service.Contact{Name: "Mira Sen", Phone: "+919800055555"})
	check(t, err)
	rules := service.Rules{Form: service.FormRules{PageLinkTTL: service.Duration(24 * time.Hour)}}
	oldLink := service.SignPage(&service.Integration{ID: "gate", LinkSecret: linkSecret, Rules: rules}, tk.ID, time.Now())
	oldLinkCarrier := carrier{header: map[string]string{"X-Lsqbridge-Link-Expires": strconv.FormatInt(oldLink.Expires.Unix(), 10),
		"X-Lsqbridge-Link-Signature": oldLink.Signature}}
	c.mustRun("migrate", "up")

	base, _ := inProcess(t, dbURL)
	routes := gateRoutes("gate", tk.ID, tk.Contact.ID)
	legacy := service.Credentials{LeadSquared: shared, LimeChat: shared, Automation: shared, App: appKey}
	present := func(r gateRoute, creds service.Credentials) carrier {
		if r.own == nil {
			return oldLinkCarrier
		}
		return r.own(creds.Get(r.power))
	}
	expect := func(when string, takes map[service.Power]bool) {
		t.Helper()
		for _, r := range routes {
			p := r.power
			if p == "" {
				p = service.PowerApp // the links the legacy key signed
			}
			status, body, _ := hit(t, base, r, present(r, legacy))
			if takes[p] && status != r.okStatus {
				t.Errorf("%s: %s with its pre-00010 credential = %d %s; want it still accepted", when, r.name, status, body)
			}
			if !takes[p] && status != http.StatusUnauthorized {
				t.Errorf("%s: %s with its pre-00010 credential = %d %s; want 401", when, r.name, status, body)
			}
		}
	}
	all := map[service.Power]bool{service.PowerLeadSquared: true, service.PowerLimeChat: true, service.PowerAutomation: true, service.PowerApp: true}
	expect("after migrating", all)
	pool, err := pgxpool.New(ctx, dbURL)
	check(t, err)
	t.Cleanup(pool.Close)
	store := service.NewIntegrations(pool, nil)
	warned := func() string {
		var b bytes.Buffer
		app.WarnLegacyCredentials(ctx, store, slog.New(slog.NewJSONHandler(&b, nil)))
		return b.String()
	}
	if w := warned(); !strings.Contains(w, `"integration":"gate","powers":"leadsquared,limechat,automation,app"`) {
		t.Errorf("serve's start-up warning after migrating: %q", w)
	}
	if show := c.mustRun("integration", "show", "gate"); strings.Count(show, `"legacy_shared_token": true`) != 4 {
		t.Errorf("show after migrating: want four powers on the shared token:\n%s", show)
	}
	if list := c.mustRun("integration", "list"); !strings.Contains(list, "shared legacy token: leadsquared,limechat,automation,app") {
		t.Errorf("list after migrating does not say the shared token is still in use:\n%s", list)
	}

	fresh := credsFrom(t, c.mustRun("integration", "rotate-token", "gate", "--for", "leadsquared"))
	delete(all, service.PowerLeadSquared)
	expect("after rotating leadsquared", all)
	if status, body, _ := hit(t, base, routes[0], routes[0].own(fresh.LeadSquared)); status != http.StatusOK {
		t.Errorf("the new leadsquared credential = %d %s", status, body)
	}
	c.mustRun("integration", "rotate-token", "gate", "--for", "app")
	delete(all, service.PowerApp)
	expect("after rotating app", all)
	c.mustRun("integration", "rotate-token", "gate", "--for", "limechat,automation")
	expect("after rotating everything", nil)
	if w := warned(); w != "" {
		t.Errorf("serve still warns after every power was rotated: %s", w)
	}
	if list := c.mustRun("integration", "list"); !strings.Contains(list, " own ") {
		t.Errorf("list after rotating every power:\n%s", list)
	}
}

// queryLog records every statement a pool runs, with its arguments.
type queryLog struct {
	mu      sync.Mutex
	queries []tracedQuery
}

type tracedQuery struct {
	sql  string
	args []any
}

func (l *queryLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	l.queries = append(l.queries, tracedQuery{d.SQL, d.Args})
	l.mu.Unlock()
	return ctx
}

func (l *queryLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements run since the last take.
func (l *queryLog) take() []tracedQuery {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queries
	l.queries = nil
	return q
}

// TestCredentialCheckIsOneIndexedReadPerRequest measures what admitting a
// request costs: exactly one statement (the route's credential and the
// integration's state, read together), which the planner answers from the
// two primary keys; the integration's configuration is read again only
// when its config_version changed.
func TestCredentialCheckIsOneIndexedReadPerRequest(t *testing.T) {
	t.Parallel()
	lsq := sandbox.NewLeadSquared(nil, false, nil)
	lc := sandbox.NewLimeChat(nil, nil)
	lsqSrv, lcSrv := httptest.NewServer(lsq), httptest.NewServer(lc)
	t.Cleanup(func() {
		lsqSrv.Close()
		lcSrv.Close()
		lsq.Close()
		lc.Close()
	})
	dbURL := dbtest.NewURL(t)
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": dbURL, "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_ALLOW_LOOPBACK": "true",
		"GATE_LSQ_ACCESS": sandbox.LeadSquaredAccessKey, "GATE_LSQ_SECRET": sandbox.LeadSquaredSecretKey, "GATE_LC_TOKEN": sandbox.LimeChatToken}}
	file := filepath.Join(t.TempDir(), "gate.yaml")
	check(t, os.WriteFile(file, fmt.Appendf(nil, gateYAML, lsqSrv.URL, lcSrv.URL), 0o600))
	creds := credsFrom(t, c.mustRun("integration", "apply", "-f", file))

	ql := &queryLog{}
	pcfg, err := pgxpool.ParseConfig(dbURL)
	check(t, err)
	pcfg.ConnConfig.Tracer = ql
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	check(t, err)
	t.Cleanup(pool.Close)
	a, err := app.New(ctx, app.Config{MasterKey: testMasterKey, RelayWorkers: 1, AllowLoopback: true}, pool, slog.New(slog.DiscardHandler),
		app.Options{NoRelay: true})
	check(t, err)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)

	routes := gateRoutes("gate", 1, 1)
	lsqRoute, lcRoute := routes[0], routes[1]
	send := func(n int) {
		for i := range n {
			r := lcRoute
			r.body = fmt.Sprintf(`{"event":"message_created","id":%d}`, 1000+i)
			if status, body, _ := hit(t, srv.URL, r, r.own(creds.LimeChat)); status != http.StatusOK {
				t.Fatalf("LimeChat webhook = %d %s", status, body)
			}
			if status, body, _ := hit(t, srv.URL, lsqRoute, lsqRoute.own(creds.LeadSquared)); status != http.StatusOK {
				t.Fatalf("LeadSquared webhook = %d %s", status, body)
			}
		}
	}
	isCheck := func(q tracedQuery) bool { return strings.Contains(q.sql, "LEFT JOIN credentials") }
	isLoad := func(q tracedQuery) bool { return strings.Contains(q.sql, "FROM integrations WHERE id = $1") }
	count := func(qs []tracedQuery, f func(tracedQuery) bool) int {
		n := 0
		for _, q := range qs {
			if f(q) {
				n++
			}
		}
		return n
	}
	send(1) // loads the integration once
	ql.take()
	const n = 20
	send(n)
	qs := ql.take()
	if got := count(qs, isCheck); got != 2*n {
		t.Errorf("%d credential checks for %d requests; want exactly one each", got, 2*n)
	}
	if got := count(qs, isLoad); got != 0 {
		t.Errorf("the integration was read %d times while its config_version did not change; want 0", got)
	}
	t.Logf("%d statements for %d webhooks (%.1f each), of which one each is the credential check", len(qs), 2*n, float64(len(qs))/float64(2*n))

	// A new configuration is read by the very next request, once.
	c.mustRun("integration", "apply", "-f", file)
	send(3)
	if got := count(ql.take(), isLoad); got != 1 {
		t.Errorf("after apply the integration was read %d times over 6 requests; want exactly once", got)
	}

	// The check's plan, at a size where a scan would show: two primary-key
	// lookups, no sequential scan.
	if _, err := pool.Exec(ctx, `INSERT INTO integrations (id, name, lsq_host, lsq_access_key_sealed, lsq_secret_key_sealed,
		limechat_base_url, limechat_account_id, limechat_inbox_id, limechat_api_token_sealed, webhook_token_hash)
		SELECT 'bulk-' || g, 'bulk', 'https://x', '\x00', '\x00', 'https://x', 1, 1, '\x00', sha256(g::text::bytea)
		FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO credentials (integration_id, power, secret_hash, version)
		SELECT i.id, p, sha256((i.id || p)::bytea), 1 FROM integrations i, unnest(ARRAY['leadsquared','limechat','automation','app']) p
		WHERE i.id LIKE 'bulk-%'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE integrations; ANALYZE credentials"); err != nil {
		t.Fatal(err)
	}
	send(1)
	var probe *tracedQuery
	for _, q := range ql.take() {
		if isCheck(q) {
			probe = &q
			break
		}
	}
	if probe == nil {
		t.Fatal("no credential check ran")
	}
	rows, err := pool.Query(ctx, "EXPLAIN "+probe.sql, probe.args...)
	check(t, err)
	var plan []string
	for rows.Next() {
		var line string
		check(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	check(t, rows.Err())
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Seq Scan") || !strings.Contains(text, "integrations_pkey") || !strings.Contains(text, "credentials_pkey") {
		t.Errorf("the credential check's plan is not two primary-key lookups:\n%s", text)
	}
	t.Logf("plan:\n%s", text)
}
