package leadsquared

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// ErrUnknownEvent is returned by ParseWebhook for an event name it does not know.
var ErrUnknownEvent = errors.New("unknown leadsquared webhook event")

// ErrBatchTooLarge is returned by ParseWebhook for an array of more than
// MaxBatch records: such a delivery is refused whole (stored, answered), so
// one request never turns into thousands of transactions.
var ErrBatchTooLarge = errors.New("too many records in one delivery")

// MaxBatch is the most records one delivery may carry. LeadSquared batches
// activity webhooks about once a minute; lead and opportunity webhooks
// carry one record.
const MaxBatch = 100

// webhookKind is what one webhook URL segment means.
type webhookKind struct {
	kind service.RecordKind
	typ  service.EventType
}

// webhookEvents maps the URL segment (one URL per LeadSquared webhook) to
// its meaning. Owner and stage changes normalize to updates: what changed is
// found by diffing Before and After, never trusted from the URL.
var webhookEvents = map[string]webhookKind{
	"lead-created":              {service.KindLead, service.EventLeadCreated},
	"lead-updated":              {service.KindLead, service.EventLeadUpdated},
	"lead-owner-changed":        {service.KindLead, service.EventLeadUpdated},
	"lead-stage-changed":        {service.KindLead, service.EventLeadUpdated},
	"opportunity-created":       {service.KindOpportunity, service.EventOpportunityCreated},
	"opportunity-updated":       {service.KindOpportunity, service.EventOpportunityUpdated},
	"opportunity-stage-changed": {service.KindOpportunity, service.EventOpportunityUpdated},
}

// WebhookEvents lists the event names ParseWebhook accepts, sorted.
func WebhookEvents() []string { return slices.Sorted(maps.Keys(webhookEvents)) }

// auditKeys change on every save; they are not field changes.
var auditKeys = map[string]bool{
	"modifiedon": true, "lastmodifiedon": true, "leadlastmodifiedon": true,
	"modifiedby": true, "modifiedbyname": true, "modifiedbyemailaddress": true,
}

// maxNesting bounds how deep ParseWebhook looks for a nested record.
const maxNesting = 4

// ParseWebhook turns one LeadSquared webhook delivery into events. event is
// the URL segment (lead-created, lead-updated, lead-owner-changed,
// lead-stage-changed, opportunity-created, opportunity-updated,
// opportunity-stage-changed). It is a pure function and never panics.
//
// It accepts every shape seen in the wild: a flat record; {"Before","After"};
// a JSON array of either (one event per element); the record nested under
// "Lead" (or "Opportunity"/"Data" for opportunities); "Fields",
// "LeadFields", "LeadPropertyList" arrays of {Attribute|SchemaName|Key,
// Value}; and form-encoded bodies. Non-string values become strings. An empty
// body (LeadSquared's verification call) yields no events and no error. A
// record without an id is an error.
//
// Each event's DedupKey is the hex SHA-256 of event + "\n" + body, with
// "#<index>" appended for the elements of an array.
func ParseWebhook(event string, header http.Header, body []byte) ([]service.Event, error) {
	wk, ok := webhookEvents[event]
	if !ok {
		return nil, fmt.Errorf("parse leadsquared webhook %q: %w", truncate(event, 60), ErrUnknownEvent)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	items, isArray, err := decodeWebhookBody(header, trimmed)
	if err != nil {
		return nil, fmt.Errorf("parse leadsquared webhook %s: %w", event, err)
	}
	if len(items) > MaxBatch {
		return nil, fmt.Errorf("parse leadsquared webhook %s: %w: it holds %d records, lsqbridge takes at most %d per delivery",
			event, ErrBatchTooLarge, len(items), MaxBatch)
	}
	sum := sha256.Sum256([]byte(event + "\n" + string(body)))
	key := hex.EncodeToString(sum[:])

	events := make([]service.Event, 0, len(items))
	for i, item := range items {
		ev, err := buildEvent(wk, item)
		if err != nil {
			if isArray {
				return nil, fmt.Errorf("parse leadsquared webhook %s: item %d: %w", event, i, err)
			}
			return nil, fmt.Errorf("parse leadsquared webhook %s: %w", event, err)
		}
		ev.DedupKey = key
		if isArray {
			ev.DedupKey = key + "#" + strconv.Itoa(i)
			// Kept with the record's event; the body is stored once.
			ev.Item, _ = json.Marshal(item)
		}
		events = append(events, ev)
	}
	return events, nil
}

// decodeWebhookBody returns the record objects of a body and whether it was an array.
func decodeWebhookBody(header http.Header, body []byte) ([]map[string]any, bool, error) {
	if (body[0] == '{' || body[0] == '[') && json.Valid(body) {
		v, err := decodeJSON(body)
		if err != nil {
			return nil, false, fmt.Errorf("decode JSON: %w", err)
		}
		switch x := v.(type) {
		case map[string]any:
			return []map[string]any{x}, false, nil
		case []any:
			if isPairList(x) {
				// A bare attribute array is one record.
				return []map[string]any{{"Fields": x}}, false, nil
			}
			items := make([]map[string]any, 0, len(x))
			for i, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, true, fmt.Errorf("item %d is not an object", i)
				}
				items = append(items, m)
			}
			return items, true, nil
		}
	}
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" || bytes.IndexByte(body, '=') > 0 {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false, errors.New("body is neither JSON nor form-encoded")
		}
		obj := make(map[string]any, len(values))
		for k, vs := range values {
			if k == "" || len(vs) == 0 {
				continue
			}
			v := vs[0]
			if t := strings.TrimSpace(v); t != "" && (t[0] == '{' || t[0] == '[') {
				if decoded, err := decodeJSON([]byte(t)); err == nil {
					obj[k] = decoded
					continue
				}
			}
			obj[k] = v
		}
		if len(obj) == 0 {
			return nil, false, errors.New("form-encoded body has no fields")
		}
		return []map[string]any{obj}, false, nil
	}
	return nil, false, errors.New("body is neither JSON nor form-encoded")
}

// decodeJSON decodes with json.Number so numbers keep their text.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// buildEvent normalizes one record object.
func buildEvent(wk webhookKind, obj map[string]any) (service.Event, error) {
	before, after, err := snapshots(wk.kind, obj, 0)
	if err != nil {
		return service.Event{}, err
	}
	var rec service.Record
	if wk.kind == service.KindLead {
		rec = leadRecord(after)
		if rec.ID == "" && before != nil {
			rec.ID = first(before, leadIDKeys...)
			rec.LeadID = rec.ID
		}
		if rec.ID == "" {
			return service.Event{}, errors.New("payload has no record id (ProspectID, ProspectId or LeadId)")
		}
	} else {
		rec = opportunityRecord(after)
		if before != nil {
			rec.ID = cmp.Or(rec.ID, first(before, opportunityIDKeys...))
			rec.LeadID = cmp.Or(rec.LeadID, first(before, relatedLeadKeys...))
		}
		if rec.ID == "" {
			return service.Event{}, errors.New("payload has no record id (OpportunityId, ProspectOpportunityId or ProspectActivityId)")
		}
	}
	ev := service.Event{
		Source:     service.SourceLeadSquared,
		Type:       wk.typ,
		OccurredAt: parseOrZero(first(after, "ModifiedOn", "LastModifiedOn", "LeadLastModifiedOn", "CreatedOn")),
		Record:     &rec,
	}
	if before != nil {
		ev.Before = before
		ev.Changed = changed(before, after)
	}
	return ev, nil
}

// snapshots finds the Before/After pair (before is nil for a flat record),
// descending into the kind's nesting keys.
func snapshots(kind service.RecordKind, obj map[string]any, depth int) (before, after map[string]string, err error) {
	b, hasBefore := objectAt(obj, "Before")
	a, hasAfter := objectAt(obj, "After")
	switch {
	case hasAfter:
		after = flatten(kind, a, depth+1)
		if hasBefore {
			before = flatten(kind, b, depth+1)
		}
		return before, after, nil
	case hasBefore:
		return nil, nil, errors.New("payload has Before but no After")
	}
	if depth < maxNesting {
		for _, k := range nestKeys(kind) {
			if inner, ok := objectAt(obj, k); ok {
				if _, hasB := objectAt(inner, "Before"); hasB {
					return snapshots(kind, inner, depth+1)
				}
				if _, hasA := objectAt(inner, "After"); hasA {
					return snapshots(kind, inner, depth+1)
				}
			}
		}
	}
	return nil, flatten(kind, obj, depth), nil
}

// nestKeys are the keys under which a record may be nested.
func nestKeys(kind service.RecordKind) []string {
	if kind == service.KindLead {
		return []string{"Lead"}
	}
	return []string{"Opportunity", "Data"}
}

// pairKeys are the arrays of {Attribute|SchemaName|Key, Value} pairs.
var pairKeys = []string{"Fields", "LeadFields", "LeadPropertyList", "Data"}

// flatten turns one record object into string fields. The object's own
// scalar values win over values found in nested pair arrays and nested
// record objects; nested containers are read in sorted key order so the
// result is deterministic.
func flatten(kind service.RecordKind, obj map[string]any, depth int) map[string]string {
	out := map[string]string{}
	keys := slices.Sorted(maps.Keys(obj))
	consumed := map[string]bool{}
	for _, k := range keys {
		switch v := obj[k].(type) {
		case []any:
			if containsFold(pairKeys, k) && isPairList(v) {
				for _, e := range v {
					m, _ := e.(map[string]any)
					if name := pairName(m); name != "" {
						out[name] = str(m["Value"])
					}
				}
				consumed[k] = true
			}
		case map[string]any:
			if containsFold(nestKeys(kind), k) && depth < maxNesting {
				for nk, nv := range flatten(kind, v, depth+1) {
					out[nk] = nv
				}
				consumed[k] = true
			}
		}
	}
	for _, k := range keys {
		if !consumed[k] {
			out[k] = str(obj[k])
		}
	}
	return out
}

// isPairList reports whether every element is an object with a name key and a Value.
func isPairList(arr []any) bool {
	if len(arr) == 0 {
		return false
	}
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok || pairName(m) == "" {
			return false
		}
		if _, ok := m["Value"]; !ok {
			return false
		}
	}
	return true
}

// pairName is the schema name of a pair object.
func pairName(m map[string]any) string {
	for _, k := range []string{"Attribute", "SchemaName", "Key"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// objectAt returns obj[key] (case-insensitively) as an object; a string
// holding a JSON object counts too (form-encoded bodies carry them so).
func objectAt(obj map[string]any, key string) (map[string]any, bool) {
	v, ok := obj[key]
	if !ok {
		for k, kv := range obj {
			if strings.EqualFold(k, key) {
				v, ok = kv, true
				break
			}
		}
	}
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case string:
		if t := strings.TrimSpace(x); strings.HasPrefix(t, "{") {
			if d, err := decodeJSON([]byte(t)); err == nil {
				if m, ok := d.(map[string]any); ok {
					return m, true
				}
			}
		}
	}
	return nil, false
}

// changed lists the schema names whose values differ, ignoring audit keys;
// a missing key reads as "". The result is sorted and never nil.
func changed(before, after map[string]string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, m := range []map[string]string{before, after} {
		for k := range m {
			if seen[k] || auditKeys[strings.ToLower(k)] {
				continue
			}
			seen[k] = true
			if before[k] != after[k] {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}
