package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
)

// delivery is one request to a webhook route, as a platform (or an
// attacker holding the route's credential) might send it.
type delivery struct {
	name string
	// lsq posts to /v1/webhooks/leadsquared/demo/<event>; else LimeChat.
	lsq    bool
	event  string // LeadSquared URL segment, already escaped
	header map[string]string
	body   []byte
	// rejected: the delivery is unusable and must be recorded `rejected`.
	rejected bool
	// unrouted: the path matches no route (the router's 404; nothing to store).
	unrouted bool
}

// poisonDeliveries are the five deliveries people found refused for ever
// (HTTP 503, nothing stored), and more of the same kind.
func poisonDeliveries() []delivery {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	manyLabels := make([]string, 20000)
	for i := range manyLabels {
		manyLabels[i] = fmt.Sprintf(`"tag-%d"`, i)
	}
	batch := make([]string, 1000)
	for i := range batch {
		batch[i] = fmt.Sprintf(`{"ProspectID":"batch-%d","FirstName":"B"}`, i)
	}
	odd := "\u202eRTL\u200d👩‍👩‍👧‍👦 e\u0301\ufeff" + strings.Repeat("ß", 100000)
	conv := func(extra string) []byte {
		return []byte(`{"event":"conversation_updated","id":424242,"inbox_id":1,"status":"open","labels":[],` +
			`"meta":{"assignee":null},"changed_attributes":[{"label_list":{"previous_value":[],"current_value":["x"]}}]` + extra + `}`)
	}
	return []delivery{
		// The five from the issue.
		{name: "LeadSquared JSON with \\u0000 in a value", lsq: true, event: "lead-updated",
			body: []byte(`{"Before":{"ProspectID":"p1","FirstName":"a"},"After":{"ProspectID":"p1","FirstName":"a\u0000b"}}`), rejected: true},
		{name: "LeadSquared body with invalid UTF-8", lsq: true, event: "lead-updated",
			body: []byte("{\"ProspectID\":\"p1\",\"FirstName\":\"\xff\xfe\"}"), rejected: true},
		{name: "LimeChat body with a raw NUL byte", body: append(conv(""), 0), rejected: true},
		{name: "%00 in the event segment of the URL", lsq: true, event: "lead%00created",
			body: []byte(`{"ProspectID":"p2","FirstName":"a"}`), rejected: true},
		{name: "X-Chatwoot-Delivery of 5,000 characters", header: map[string]string{"X-Chatwoot-Delivery": strings.Repeat("d", 5000)},
			body: conv(""), rejected: true},
		// More of our own.
		{name: "a LimeChat label list of 20,000 labels", body: conv(`,"labels":[` + strings.Join(manyLabels, ",") + `]`)},
		{name: "JSON nested 100,000 deep", lsq: true, event: "lead-updated", body: []byte(deep), rejected: true},
		{name: "long and odd Unicode", lsq: true, event: "lead-updated",
			body: []byte(`{"ProspectID":"p3","FirstName":"` + odd + `","ModifiedOn":"2026-12-01 10:00:00"}`)},
		{name: "SQL-looking strings", lsq: true, event: "lead-updated",
			body: []byte(`{"ProspectID":"'; DROP TABLE links; --","FirstName":"Robert'); DELETE FROM outbox; --"}`)},
		{name: "a lone surrogate", lsq: true, event: "lead-updated", body: []byte(`{"ProspectID":"p4","FirstName":"\ud800"}`)},
		{name: "an event segment with path tricks", lsq: true, event: "..%2f..%2fadmin", body: []byte(`{"ProspectID":"p5"}`), unrouted: true},
		{name: "an unknown event name of 10,000 characters", lsq: true, event: strings.Repeat("e", 10000), body: []byte(`{}`), rejected: true},
		{name: "a LeadSquared batch of 1,000 records", lsq: true, event: "lead-updated", body: []byte("[" + strings.Join(batch, ",") + "]"), rejected: true},
		{name: "a body over 1 MiB", lsq: true, event: "lead-updated", body: bytes.Repeat([]byte("x"), 2<<20), rejected: true},
		{name: "an empty LimeChat body", body: nil, rejected: true},
		{name: "a LimeChat body that is not JSON", body: []byte("event=conversation_updated&id=1"), rejected: true},
		{name: "a LeadSquared form-encoded body with odd bytes", lsq: true, event: "lead-updated",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte("ProspectID=p6&FirstName=%00%ff"), rejected: true},
	}
}

// TestPoisonDeliveriesAreStoredAndAnswered posts every poison delivery to
// the running service: none gets a 5xx, LeadSquared always gets its 200,
// every one is stored (body byte for byte), the unusable ones as rejected
// with a reason, which `lsqbridge audit events --outcome rejected` shows.
func TestPoisonDeliveriesAreStoredAndAnswered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *worldOptions) { o.Signed = true })
	stored, rejected := 0, 0
	for _, d := range poisonDeliveries() {
		before := w.count("SELECT count(*) FROM inbound_events")
		status, body := w.deliver(d, time.Now())
		if d.unrouted {
			if status != http.StatusNotFound || w.count("SELECT count(*) FROM inbound_events") != before {
				t.Errorf("%s: answered %d %s, want the router's 404", d.name, status, body)
			}
			continue
		}
		if status >= 500 || (d.lsq && status != http.StatusOK) {
			t.Errorf("%s: answered %d %s", d.name, status, body)
			continue
		}
		if w.count("SELECT count(*) FROM inbound_events") != before+1 {
			t.Errorf("%s: answered %d but not stored as one row", d.name, status)
			continue
		}
		stored++
		var outcome, detail string
		var raw []byte
		check(t, w.pool.QueryRow(w.ctx, "SELECT outcome, detail, raw FROM inbound_events ORDER BY id DESC LIMIT 1").Scan(&outcome, &detail, &raw))
		want := d.body
		if len(want) > 1<<20 {
			want = want[:1<<20] // the part read before the cap
		}
		if !bytes.Equal(raw, want) {
			t.Errorf("%s: stored %d bytes, want the %d received", d.name, len(raw), len(want))
		}
		if d.rejected {
			if outcome != "rejected" || detail == "" {
				t.Errorf("%s: outcome %s (%q), want rejected with a reason", d.name, outcome, detail)
			}
			rejected++
		}
	}
	// Replays of a signed LimeChat delivery: the same one again is a
	// duplicate; one signed long ago is refused as unauthenticated.
	replay := delivery{name: "signed delivery", body: []byte(`{"event":"conversation_updated","id":424243,"changed_attributes":[]}`),
		header: map[string]string{"X-Chatwoot-Delivery": "replayed-1"}}
	for i, at := range []time.Time{time.Now(), time.Now(), time.Now().Add(-time.Hour)} {
		status, body := w.deliver(replay, at)
		if want := []int{200, 200, 401}[i]; status != want {
			t.Errorf("replay %d: answered %d %s, want %d", i, status, body, want)
		}
	}
	if n := w.count("SELECT count(*) FROM inbound_events WHERE dedup_key = 'replayed-1'"); n != 1 {
		t.Errorf("a replayed delivery stored %d times, want once", n)
	}
	out := (&cli{t: t, env: map[string]string{"DATABASE_URL": w.dbURL()}}).mustRun("audit", "events", "--integration", "demo", "--outcome", "rejected")
	if lines := strings.Count(strings.TrimSpace(out), "\n"); lines < rejected {
		t.Errorf("audit events --outcome rejected lists %d rows, want the %d rejected:\n%s", lines, rejected, out)
	}
	t.Logf("bad input: %d deliveries, %d stored, %d rejected with a reason, 0 answered 5xx", len(poisonDeliveries()), stored, rejected)
}

// deliver posts d with the route's credential (and, for LimeChat, a
// signature made at at); it returns the status and body.
func (w *world) deliver(d delivery, at time.Time) (int, string) {
	w.t.Helper()
	return w.postDelivery(w.t, d, at)
}

func (w *world) postDelivery(t testing.TB, d delivery, at time.Time) (int, string) {
	t.Helper()
	u := w.URL + "/v1/webhooks/limechat/demo?token=" + w.Creds.LimeChat
	if d.lsq {
		u = w.URL + "/v1/webhooks/leadsquared/demo/" + d.event
	}
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, u, bytes.NewReader(d.body))
	check(t, err)
	req.Header.Set("Content-Type", "application/json")
	if d.lsq {
		req.Header.Set("X-Lsqbridge-Token", w.Creds.LeadSquared)
	} else {
		ts, sig := limechat.Sign([]byte(sandbox.WebhookSecret), at, d.body)
		req.Header.Set("X-Chatwoot-Timestamp", ts)
		req.Header.Set("X-Chatwoot-Signature", sig)
	}
	for k, v := range d.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	check(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// validHeaderValue reports whether net/http's client sends v as a header
// value: no control character but a tab (a platform's HTTP client could
// not send one either).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzWebhookRoutes fuzzes the HTTP handlers of both webhook routes (not
// only the parsers) against the running service and its database: no
// input may panic or get a 5xx, and every authenticated delivery answered
// is stored. `make test` runs it for a short while (see the Makefile).
func FuzzWebhookRoutes(f *testing.F) {
	for _, d := range poisonDeliveries() {
		if len(d.body) < 64<<10 {
			f.Add(d.lsq, d.event, d.header["X-Chatwoot-Delivery"], d.body)
		}
	}
	f.Add(true, "lead-created", "", []byte(`{"ProspectID":"f1","FirstName":"F","OwnerId":"x"}`))
	f.Add(false, "", "abc", []byte(`{"event":"conversation_created","id":7}`))
	f.Add(true, "%", "", []byte(`{}`)) // an escape no client can send as it is
	w := newWorld(f)
	stored := func(t *testing.T) int {
		var n int
		if err := w.pool.QueryRow(w.ctx, "SELECT count(*) FROM inbound_events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	f.Fuzz(func(t *testing.T, lsq bool, event, deliveryID string, body []byte) {
		if lsq && (event == "" || strings.ContainsAny(event, "/?#")) {
			event = "lead-updated" // keep to the route: other paths are the router's 404
		}
		if lsq {
			if _, err := url.Parse("http://h/" + event); err != nil {
				// No HTTP client could send this path ("%", "%zz", a
				// control byte): send it escaped, as a platform would.
				event = url.PathEscape(event)
			}
		}
		d := delivery{lsq: lsq, event: event, body: body, header: map[string]string{}}
		if deliveryID != "" && validHeaderValue(deliveryID) {
			d.header["X-Chatwoot-Delivery"] = deliveryID
		}
		before := stored(t)
		status, answer := w.postDelivery(t, d, time.Now())
		if status >= 500 {
			t.Fatalf("answered %d %s", status, answer)
		}
		if status == http.StatusOK || status == http.StatusBadRequest {
			var again bool // a repeat of a delivery stored before
			check(t, w.pool.QueryRow(w.ctx, "SELECT EXISTS (SELECT FROM inbound_events WHERE raw = $1)", body).Scan(&again))
			if stored(t) < before+1 && !again && !strings.Contains(answer, "duplicate") &&
				!strings.Contains(answer, "verification call") {
				t.Fatalf("answered %d %s but stored nothing", status, answer)
			}
		}
	})
}
