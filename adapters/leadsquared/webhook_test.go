package leadsquared

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lsqbridge/lsqbridge/service"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	fixtureDir = "../../testdata/leadsquared/webhooks"
	goldenDir  = "../../testdata/leadsquared/golden"
)

// fixture is one webhook payload file: <event>.<shape>.<ext>; .form files
// are sent as application/x-www-form-urlencoded, the rest as JSON.
type fixture struct {
	name, event string
	header      http.Header
	body        []byte
}

func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	entries, err := os.ReadDir(fixtureDir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []fixture
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(fixtureDir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		ct := "application/json"
		if strings.HasSuffix(e.Name(), ".form") {
			ct = "application/x-www-form-urlencoded"
		}
		event, _, _ := strings.Cut(e.Name(), ".")
		out = append(out, fixture{name: e.Name(), event: event, header: http.Header{"Content-Type": {ct}}, body: body})
	}
	if len(out) < 15 {
		tb.Fatalf("only %d fixtures found", len(out))
	}
	return out
}

// goldenEvent is the part of service.Event a LeadSquared parser fills.
type goldenEvent struct {
	Type       service.EventType
	DedupKey   string
	OccurredAt time.Time
	Record     *service.Record
	Before     map[string]string `json:",omitempty"`
	Changed    []string
}

type goldenResult struct {
	Events []goldenEvent `json:",omitempty"`
	Error  string        `json:",omitempty"`
}

func TestParseWebhookGolden(t *testing.T) {
	t.Parallel()
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			events, err := ParseWebhook(fx.event, fx.header, fx.body)
			var res goldenResult
			if err != nil {
				res.Error = err.Error()
			}
			for _, ev := range events {
				if ev.Source != service.SourceLeadSquared {
					t.Errorf("source = %q", ev.Source)
				}
				res.Events = append(res.Events, goldenEvent{ev.Type, ev.DedupKey, ev.OccurredAt, ev.Record, ev.Before, ev.Changed})
			}
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join(goldenDir, fx.name+".golden.json")
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", path, got)
			}
		})
	}
}

func TestParseWebhookBehaviour(t *testing.T) {
	t.Parallel()
	lead := `{"ProspectID":"L1","OwnerId":"U1","ModifiedOn":"2026-01-02 03:04:05"}`
	tests := []struct {
		name        string
		event       string
		contentType string
		body        string
		wantErr     string
		wantN       int
		check       func(t *testing.T, evs []service.Event)
	}{
		{name: "unknown event", event: "lead-deleted", body: lead, wantErr: "unknown leadsquared webhook event"},
		{name: "empty body is the verification call", event: "lead-created", body: "  \n"},
		{name: "empty array", event: "lead-created", body: "[]"},
		{name: "flat lead", event: "lead-created", body: lead, wantN: 1, check: func(t *testing.T, evs []service.Event) {
			ev := evs[0]
			if ev.Type != service.EventLeadCreated || ev.Record.ID != "L1" || ev.Record.LeadID != "L1" || ev.Record.OwnerID != "U1" {
				t.Errorf("event = %+v, record = %+v", ev, ev.Record)
			}
			if ev.Changed != nil || ev.Before != nil {
				t.Errorf("flat payload has Changed %v Before %v", ev.Changed, ev.Before)
			}
			if !ev.OccurredAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Errorf("OccurredAt = %v", ev.OccurredAt)
			}
		}},
		{name: "owner change normalizes to update", event: "lead-owner-changed", body: `{"Before":` + lead + `,"After":{"ProspectID":"L1","OwnerId":"U2","ModifiedOn":"2026-01-02 03:04:06","ModifiedBy":"X"}}`, wantN: 1,
			check: func(t *testing.T, evs []service.Event) {
				if evs[0].Type != service.EventLeadUpdated || strings.Join(evs[0].Changed, ",") != "OwnerId" {
					t.Errorf("type %s changed %v", evs[0].Type, evs[0].Changed)
				}
			}},
		{name: "no change gives empty non-nil Changed", event: "lead-updated", body: `{"Before":` + lead + `,"After":` + lead + `}`, wantN: 1,
			check: func(t *testing.T, evs []service.Event) {
				if evs[0].Changed == nil || len(evs[0].Changed) != 0 {
					t.Errorf("Changed = %#v", evs[0].Changed)
				}
			}},
		{name: "array items get indexed keys", event: "lead-created", body: "[" + lead + "," + lead + "]", wantN: 2,
			check: func(t *testing.T, evs []service.Event) {
				if !strings.HasSuffix(evs[0].DedupKey, "#0") || !strings.HasSuffix(evs[1].DedupKey, "#1") ||
					strings.TrimSuffix(evs[0].DedupKey, "#0") != strings.TrimSuffix(evs[1].DedupKey, "#1") {
					t.Errorf("keys %q %q", evs[0].DedupKey, evs[1].DedupKey)
				}
			}},
		{name: "same body different event differs", event: "lead-updated", body: lead, wantN: 1,
			check: func(t *testing.T, evs []service.Event) {
				other, _ := ParseWebhook("lead-created", nil, []byte(lead))
				if other[0].DedupKey == evs[0].DedupKey {
					t.Error("dedup key ignores the event name")
				}
			}},
		{name: "no id", event: "lead-updated", body: `{"FirstName":"A"}`, wantErr: "no record id"},
		{name: "opportunity without id", event: "opportunity-updated", body: `{"RelatedProspectId":"L1"}`, wantErr: "no record id"},
		{name: "array item without id names the item", event: "lead-created", body: "[" + lead + `,{"FirstName":"B"}]`, wantErr: "item 1"},
		{name: "array of scalars", event: "lead-created", body: `[1,2]`, wantErr: "not an object"},
		{name: "JSON scalar", event: "lead-created", body: `"x"`, wantErr: "neither JSON nor form"},
		{name: "Before without After", event: "lead-updated", body: `{"Before":` + lead + `}`, wantErr: "Before but no After"},
		{name: "form content type", event: "lead-updated", contentType: "application/x-www-form-urlencoded; charset=utf-8", body: "ProspectID=L9&mx_City=Goa", wantN: 1,
			check: func(t *testing.T, evs []service.Event) {
				if evs[0].Record.ID != "L9" || evs[0].Record.Field("mx_City") != "Goa" {
					t.Errorf("record %+v", evs[0].Record)
				}
			}},
		{name: "bare attribute array is one record", event: "lead-created", body: `[{"Attribute":"ProspectID","Value":"L7"},{"Attribute":"Score","Value":5}]`, wantN: 1,
			check: func(t *testing.T, evs []service.Event) {
				if evs[0].Record.ID != "L7" || evs[0].Record.Field("Score") != "5" || strings.Contains(evs[0].DedupKey, "#") {
					t.Errorf("event %+v record %+v", evs[0], evs[0].Record)
				}
			}},
		{name: "opportunity owner and lead", event: "opportunity-created", body: `{"OpportunityId":"O1","RelatedProspectId":"L1","Owner":"U3","OpportunityEventCode":"12000"}`, wantN: 1,
			check: func(t *testing.T, evs []service.Event) {
				r := evs[0].Record
				if r.Kind != service.KindOpportunity || r.ID != "O1" || r.LeadID != "L1" || r.OwnerID != "U3" || r.OpportunityType != 12000 {
					t.Errorf("record %+v", r)
				}
			}},
		{name: "unreadable date is zero, not an error", event: "lead-created", body: `{"ProspectID":"L1","ModifiedOn":"yesterday"}`, wantN: 1,
			check: func(t *testing.T, evs []service.Event) {
				if !evs[0].OccurredAt.IsZero() {
					t.Errorf("OccurredAt = %v", evs[0].OccurredAt)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			evs, err := ParseWebhook(tt.event, h, []byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.wantN {
				t.Fatalf("got %d events, want %d", len(evs), tt.wantN)
			}
			if tt.check != nil {
				tt.check(t, evs)
			}
		})
	}
	if _, err := ParseWebhook("nope", nil, nil); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("unknown event error %v does not wrap ErrUnknownEvent", err)
	}
}

func FuzzParseWebhook(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.event, fx.header.Get("Content-Type"), fx.body)
	}
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte) {
		evs, err := ParseWebhook(event, http.Header{"Content-Type": {contentType}}, body)
		if err != nil {
			if len(evs) != 0 {
				t.Fatalf("events %v returned with error %v", evs, err)
			}
			return
		}
		for _, ev := range evs {
			if ev.Record == nil || ev.Record.ID == "" || ev.DedupKey == "" {
				t.Fatalf("event without record id or key: %+v", ev)
			}
			if ev.Before != nil && ev.Changed == nil {
				t.Fatalf("Before without Changed: %+v", ev)
			}
		}
		if _, err := json.Marshal(evs); err != nil && utf8.Valid(body) {
			t.Fatalf("events do not marshal: %v", err)
		}
	})
}
