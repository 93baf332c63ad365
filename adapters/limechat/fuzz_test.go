package limechat

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// FuzzParseWebhook: no input may panic, and whatever parses must be a
// usable LimeChat event.
func FuzzParseWebhook(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.header.Get(HeaderDelivery), fx.body)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"event":"conversation_updated","id":1,"changed_attributes":[{"assignee_id":{"previous_value":"x"}}]}`,
		`{"event":"automation_event.","id":1}`, `{"event":"conversation_created","id":1e400}`,
		`{"event":"conversation_created","id":1,"updated_at":-99999999999999999999.5}`,
		`{"event":"conversation_created","id":1,"updated_at":"1e309"}`,
		`{"event":"conversation_updated","id":1,"changed_attributes":{"label_list":{"previous_value":","}}}`,
	} {
		f.Add("", []byte(s))
	}
	f.Fuzz(func(t *testing.T, delivery string, body []byte) {
		h := http.Header{}
		if delivery != "" {
			h.Set(HeaderDelivery, delivery)
		}
		events, err := ParseWebhook(h, body)
		if err != nil {
			if events != nil {
				t.Fatalf("events %v alongside error %v", events, err)
			}
			return
		}
		for _, ev := range events {
			if ev.Source != service.SourceLimeChat || ev.DedupKey == "" || ev.Ticket == nil || ev.Ticket.ID == 0 {
				t.Fatalf("unusable event %+v", ev)
			}
			if ev.Ticket.Labels == nil || ev.Ticket.CustomAttributes == nil {
				t.Fatalf("nil labels or attributes in %+v", ev.Ticket)
			}
			if ev.LabelsChanged && ev.PreviousLabels == nil {
				t.Fatalf("labels changed without previous labels")
			}
		}
	})
}

// FuzzVerifySignature: no header or body may panic, a genuine signature
// always verifies, and any change to the body breaks it.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("secret"), int64(1717243200), "", "", []byte(`{"event":"conversation_created"}`), int64(0))
	f.Add([]byte("s"), int64(-1), "-9223372036854775808", "sha256=00", []byte{}, int64(300))
	f.Add([]byte{}, int64(9223372036854775807), "9223372036854775807", "sha256=zz", []byte("x"), int64(-5))
	f.Fuzz(func(t *testing.T, secret []byte, unix int64, tsHeader, sigHeader string, body []byte, skewSecs int64) {
		now := time.Unix(1717243200, 0)
		skew := time.Duration(skewSecs%3600) * time.Second
		// Arbitrary headers must not panic.
		_ = VerifySignature(secret, http.Header{HeaderTimestamp: {tsHeader}, HeaderSignature: {sigHeader}}, body, now, skew)

		// A genuine signature made within the window verifies; a changed body does not.
		ts := now.Add(time.Duration(unix%60) * time.Second)
		tsH, sigH := Sign(secret, ts, body)
		h := http.Header{HeaderTimestamp: {tsH}, HeaderSignature: {sigH}}
		err := VerifySignature(secret, h, body, now, 2*time.Minute)
		if len(secret) == 0 {
			if err == nil {
				t.Fatal("verified with an empty secret")
			}
			return
		}
		if err != nil {
			t.Fatalf("genuine signature refused: %v", err)
		}
		if VerifySignature(secret, h, append(bytes.Clone(body), '!'), now, 2*time.Minute) == nil {
			t.Fatal("changed body verified")
		}
	})
}
