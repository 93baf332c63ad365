package lsqfake

import (
	"encoding/json"
	"net/http"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
)

// fire posts payload to the webhook configured for event, if any, through
// the Sender (which applies its drop/duplicate/delay/reorder faults).
// Called with f.mu held, so webhooks leave in the order of the changes.
func (f *Fake) fire(event string, payload any) {
	wh, ok := f.webhooks[event]
	if !ok {
		return
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return
	}
	h := wh.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	f.hooks.Send(fakehooks.Delivery{URL: wh.url, Header: h, Body: body})
}

// fireChange sends the Before/After webhooks of one change: kind-updated
// always, kind-owner-changed when an owner key changed (leads only), and
// kind-stage-changed when a stage key changed.
func (f *Fake) fireChange(kind string, before, after map[string]any, ownerKeys, stageKeys []string) {
	payload := map[string]any{"Before": before, "After": after}
	f.fire(kind+"-updated", payload)
	if differs(before, after, ownerKeys) {
		f.fire(kind+"-owner-changed", payload)
	}
	if differs(before, after, stageKeys) {
		f.fire(kind+"-stage-changed", payload)
	}
}

// differs reports whether any of keys has a different value.
func differs(before, after map[string]any, keys []string) bool {
	for _, k := range keys {
		if before[k] != after[k] {
			return true
		}
	}
	return false
}
