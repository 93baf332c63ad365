package service

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lsqbridge/lsqbridge/db"
)

// Every delivery that reached lsqbridge is stored, whatever its bytes: the
// body exactly as received (raw, bytea), a JSON copy only where Postgres can
// hold it (payload, jsonb: no NUL characters, no lone surrogates, bounded
// nesting), and text columns cleaned so that no input can make the insert
// fail. A delivery that cannot be stored is answered with a failure only
// when the database itself cannot be written.

// inbound is one row of inbound_events to write.
type inbound struct {
	Integration, Source, EventType, DedupKey string
	OccurredAt                               time.Time
	// Raw is the body as received; nil on the later records of a batch,
	// whose body is stored once, on the first record's row (BatchOf).
	Raw []byte
	// JSON is what payload holds: the record's own JSON for a batch's
	// records, else Raw. Stored only when Postgres can hold it.
	JSON    []byte
	BatchOf int64
	Outcome string
	Detail  string
	// RetryAt, for outcome error, is when applying it is tried again.
	RetryAt time.Time
}

// insert writes the row; db.IsNotFound(err) means a delivery with the same
// dedup key was stored before (a repeat).
func (r inbound) insert(ctx context.Context, q *db.Queries) (int64, error) {
	p := db.InboundInsertParams{
		IntegrationID: r.Integration, Source: r.Source, EventType: cleanText(r.EventType, maxEventType),
		DedupKey: cleanKey(r.DedupKey), OccurredAt: ptrTime(r.OccurredAt), Outcome: r.Outcome,
		Detail: cleanText(r.Detail, maxDetail), Raw: r.Raw, RetryAt: ptrTime(r.RetryAt),
		Payload: storableJSON(cmpBytes(r.JSON, r.Raw)),
	}
	if r.BatchOf != 0 {
		p.BatchOf = &r.BatchOf
	}
	id, err := q.InboundInsert(ctx, p)
	if err != nil && !db.IsNotFound(err) {
		return 0, fmt.Errorf("record inbound event: %w", err)
	}
	return id, err
}

// insertLocking is insert that also takes the transaction's advisory lock
// on leadKey's lead in the same round trip ("" takes none).
func (r inbound) insertLocking(ctx context.Context, q *db.Queries, leadKey string) (int64, error) {
	p := db.InboundInsertLockingParams{
		IntegrationID: r.Integration, Source: r.Source, EventType: cleanText(r.EventType, maxEventType),
		DedupKey: cleanKey(r.DedupKey), OccurredAt: ptrTime(r.OccurredAt), Outcome: r.Outcome,
		Detail: cleanText(r.Detail, maxDetail), Raw: r.Raw, RetryAt: ptrTime(r.RetryAt),
		Payload: storableJSON(cmpBytes(r.JSON, r.Raw)),
	}
	if r.BatchOf != 0 {
		p.BatchOf = &r.BatchOf
	}
	if leadKey != "" {
		p.LeadKey = &leadKey
	}
	p.LockNamespace = lockLead
	row, err := q.InboundInsertLocking(ctx, p)
	if err != nil && !db.IsNotFound(err) {
		return 0, fmt.Errorf("record inbound event: %w", err)
	}
	return row.ID, err
}

func cmpBytes(a, b []byte) []byte {
	if a != nil {
		return a
	}
	return b
}

// insertInbound records a delivery with its outcome.
func insertInbound(ctx context.Context, q *db.Queries, integration, source, typ, key string, at time.Time, raw []byte, outcome, detail string) (int64, error) {
	return inbound{Integration: integration, Source: source, EventType: typ, DedupKey: key, OccurredAt: at,
		Raw: raw, Outcome: outcome, Detail: detail}.insert(ctx, q)
}

// Limits of the text columns written from what a platform sent.
const (
	maxEventType = 100
	maxDetail    = 2000
	// maxKey is the longest dedup key stored as is; longer ones (a
	// 5,000-character delivery header, say) are stored as their hash,
	// which keeps them unique and the index small.
	maxKey = 200
	// maxJSONDepth bounds the nesting of a payload stored as jsonb (Postgres
	// refuses very deep documents); deeper ones are kept raw only.
	maxJSONDepth = 200
)

// cleanText makes s storable as text: valid UTF-8, no NUL, at most max runes.
func cleanText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return s
}

// cleanKey returns k, or its SHA-256 when k is long or not clean text.
func cleanKey(k string) string {
	if len(k) <= maxKey && utf8.ValidString(k) && !strings.ContainsRune(k, 0) {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// storableJSON returns b as Postgres can store it in a jsonb column, or
// nil when it is not JSON (or too deep). Strings holding NUL characters or
// lone surrogates, which jsonb refuses, are cleaned in a re-encoded copy.
func storableJSON(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || !utf8.Valid(b) || !json.Valid(b) || jsonDepth(b) > maxJSONDepth {
		return nil
	}
	if !bytes.Contains(b, []byte(`\u`)) {
		return b
	}
	// A \u escape may be one jsonb refuses: decode (Go turns lone
	// surrogates into U+FFFD), replace NULs, encode again.
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil
	}
	out, err := json.Marshal(withoutNUL(v))
	if err != nil {
		return nil
	}
	return out
}

func withoutNUL(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD")
	case []any:
		for i := range x {
			x[i] = withoutNUL(x[i])
		}
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[strings.ReplaceAll(k, "\x00", "\uFFFD")] = withoutNUL(e)
		}
		return m
	}
	return v
}

// jsonDepth is the deepest nesting of arrays and objects in valid JSON b.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// Unusable says why a body cannot be applied although it reached us
// authenticated ("" when it can): bytes that no text or JSON column can
// hold. Such a delivery is stored raw and recorded rejected, with this
// reason, instead of failing for ever.
func Unusable(body []byte) string {
	switch {
	case !utf8.Valid(body):
		return "the body is not valid UTF-8, so its values cannot be stored as text"
	case bytes.IndexByte(body, 0) >= 0:
		return "the body contains a NUL byte, which no text value can hold"
	case bytes.Contains(body, []byte(`\u0000`)) && json.Valid(body) && hasNUL(body):
		return `a value in the body contains a NUL character (\u0000), which no text value can hold`
	case json.Valid(body) && jsonDepth(body) > maxJSONDepth:
		return fmt.Sprintf("the body nests more than %d levels deep", maxJSONDepth)
	}
	return ""
}

// hasNUL reports whether a decoded string (or key) of JSON b holds a NUL.
func hasNUL(b []byte) bool {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case string:
			return strings.ContainsRune(x, 0)
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			for k, e := range x {
				if strings.ContainsRune(k, 0) || walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// Reject stores a delivery that could not be parsed or used as `rejected`,
// with the reason: nothing that reached us is lost.
func (s *Sync) Reject(ctx context.Context, integration string, source Source, eventType, dedupKey string, raw []byte, reason string) (Result, error) {
	id, err := insertInbound(ctx, s.q, integration, string(source), eventType, dedupKey, time.Time{}, raw, OutcomeRejected, reason)
	if db.IsNotFound(err) {
		return Result{Outcome: OutcomeDuplicate}, nil
	}
	if err != nil {
		return Result{}, err
	}
	s.metrics.event(string(source), OutcomeRejected)
	s.log.Warn("webhook rejected", "integration", integration, "source", source, "event_id", id, "reason", cleanText(reason, maxDetail))
	return Result{EventID: id, Outcome: OutcomeRejected, Detail: reason}, nil
}

// Record stores a delivery that needs no decision (an event type we do not
// act on) with the given outcome.
func (s *Sync) Record(ctx context.Context, integration string, source Source, eventType, dedupKey string, raw []byte, outcome, detail string) (Result, error) {
	id, err := insertInbound(ctx, s.q, integration, string(source), eventType, dedupKey, time.Time{}, raw, outcome, detail)
	if db.IsNotFound(err) {
		return Result{Outcome: OutcomeDuplicate}, nil
	}
	if err != nil {
		return Result{}, err
	}
	s.metrics.event(string(source), outcome)
	return Result{EventID: id, Outcome: outcome, Detail: detail}, nil
}

// Delivery is one webhook delivery as the HTTP layer received it.
type Delivery struct {
	Source Source
	// Name is the event as the platform named it (LeadSquared's URL
	// segment); a delivery stored after it failed to apply keeps it, so
	// that it can be parsed again.
	Name string
	// Raw is the body exactly as received.
	Raw []byte
}

// applyTries is how many times a delivery is applied at once before it is
// stored for a later try: a dropped connection or a lock timeout usually
// passes by the next try.
const applyTries = 3

// ApplyDelivery applies the events parsed from one delivery, in order. The
// body is stored once, with the first event; the others keep their own
// record (Event.Item) and point at it. An event that cannot be applied
// after a few tries is stored with outcome error and applied again later
// in the background (RetryFailed), so the platform gets its answer and
// nothing it sent is lost. The error means the database could not even
// store the delivery: only then should the platform be told to retry.
func (s *Sync) ApplyDelivery(ctx context.Context, in *Integration, d Delivery, events []Event) ([]Result, error) {
	out := make([]Result, 0, len(events))
	var first int64
	for i, ev := range events {
		row := inbound{Raw: d.Raw}
		if i > 0 {
			row = inbound{JSON: ev.Item, BatchOf: first}
		}
		var res Result
		var err error
		for try := 0; try < applyTries; try++ {
			if res, err = s.applyRow(ctx, in, ev, row, 0); err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			if res, err = s.storeFailed(ctx, in, d, ev, row, err); err != nil {
				return out, err
			}
		}
		if i == 0 {
			first = res.EventID
		}
		out = append(out, res)
	}
	return out, nil
}

// storeFailed records an event that could not be applied, for RetryFailed.
func (s *Sync) storeFailed(ctx context.Context, in *Integration, d Delivery, ev Event, row inbound, cause error) (Result, error) {
	s.log.Error("apply webhook; stored to apply later", "integration", in.ID, "source", ev.Source, "type", ev.Type, "err", cause)
	row.Integration, row.Source, row.EventType, row.DedupKey = in.ID, string(ev.Source), cmp.Or(d.Name, string(ev.Type)), ev.DedupKey
	row.OccurredAt, row.Outcome, row.Detail = ev.OccurredAt, OutcomeError, "applying it failed; it is tried again: "+cause.Error()
	row.RetryAt = time.Now().Add(retryBackoff(0))
	id, err := row.insert(context.WithoutCancel(ctx), s.q)
	if db.IsNotFound(err) {
		return Result{Outcome: OutcomeDuplicate, Detail: "this delivery was already received"}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("store a delivery that failed to apply (%v): %w", cause, err)
	}
	s.metrics.event(string(ev.Source), OutcomeError)
	return Result{EventID: id, Outcome: OutcomeError, Detail: row.Detail}, nil
}

// ParseFunc parses a stored delivery again: its source, the name it was
// stored with, and its body (or, for a batch's later record, the record).
type ParseFunc func(source Source, name string, body []byte) ([]Event, error)

// maxApplyAttempts is how many background tries a failed delivery gets
// (over about a day) before it stays `error` for a person to look at.
const maxApplyAttempts = 20

// retryBackoff is the wait before background try n+1: 5 s doubling, at most 2 h.
func retryBackoff(n int) time.Duration {
	return min(5*time.Second<<min(n, 20), 2*time.Hour)
}

// RetryFailed applies again the stored deliveries whose application failed
// and whose next try is due; it returns how many it applied.
func (s *Sync) RetryFailed(ctx context.Context, integrations *Integrations, parse ParseFunc) (int, error) {
	rows, err := s.q.InboundFailedDue(ctx, 50)
	if err != nil {
		return 0, fmt.Errorf("read failed deliveries: %w", err)
	}
	applied := 0
	for _, r := range rows {
		err := s.retryOne(ctx, integrations, parse, r)
		if err == nil {
			applied++
			continue
		}
		if ctx.Err() != nil {
			return applied, ctx.Err()
		}
		n := int(r.ApplyAttempts) + 1
		var next *time.Time
		if n < maxApplyAttempts {
			t := time.Now().Add(retryBackoff(n))
			next = &t
		}
		if uerr := s.q.InboundRetryLater(ctx, db.InboundRetryLaterParams{IntegrationID: r.IntegrationID, ID: r.ID, RetryAt: next,
			Detail: cleanText(fmt.Sprintf("try %d of applying it failed: %v", n+1, err), maxDetail)}); uerr != nil {
			return applied, fmt.Errorf("record a failed try: %w", uerr)
		}
		s.log.Warn("apply a stored delivery again", "integration", r.IntegrationID, "event_id", r.ID, "try", n+1, "err", err)
	}
	return applied, nil
}

func (s *Sync) retryOne(ctx context.Context, integrations *Integrations, parse ParseFunc, r db.InboundFailedDueRow) error {
	in, err := integrations.Get(ctx, r.IntegrationID)
	if err != nil {
		return err
	}
	body := r.Raw
	if body == nil {
		body = r.Payload
	}
	events, err := parse(Source(r.Source), r.EventType, body)
	if err == nil && len(events) == 0 {
		err = errors.New("it holds no event any more")
	}
	if err != nil {
		return fmt.Errorf("parse it again: %w", err)
	}
	ev := events[0]
	ev.DedupKey = r.DedupKey
	_, err = s.applyRow(ctx, in, ev, inbound{}, r.ID)
	return err
}

// RunRetries applies failed deliveries again every interval until ctx ends.
func (s *Sync) RunRetries(ctx context.Context, integrations *Integrations, parse ParseFunc, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.RetryFailed(ctx, integrations, parse); err != nil && ctx.Err() == nil {
			s.log.Warn("apply failed deliveries again", "err", err)
		}
	}
}

// UnusableEvents says why parsed events cannot be applied ("" when they
// can): a value that no text column can hold (a form-encoded body, say,
// can carry a NUL or invalid UTF-8 that its encoding hid from Unusable).
func UnusableEvents(events []Event) string {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.ContainsRune(s, 0) }
	for _, ev := range events {
		if r := ev.Record; r != nil {
			if bad(r.ID) || bad(r.LeadID) || bad(r.OwnerID) || bad(r.OwnerEmail) || bad(r.ModifiedBy) {
				return "a record id or owner holds a NUL character or invalid UTF-8"
			}
			for k, v := range r.Fields {
				if bad(k) || bad(v) {
					return fmt.Sprintf("field %q holds a NUL character or invalid UTF-8, which no text value can hold", cleanText(k, 60))
				}
			}
		}
		if t := ev.Ticket; t != nil {
			for _, l := range t.Labels {
				if bad(l) {
					return "a label holds a NUL character or invalid UTF-8"
				}
			}
			for k, v := range t.CustomAttributes {
				if s, ok := v.(string); bad(k) || (ok && bad(s)) {
					return fmt.Sprintf("custom attribute %q holds a NUL character or invalid UTF-8", cleanText(k, 60))
				}
			}
		}
	}
	return ""
}
