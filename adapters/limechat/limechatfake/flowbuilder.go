package limechatfake

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/lsqbridge/lsqbridge/service"
)

// handleFlowEvent serves Flow-builder's POST /api/v1/cvf-events: headers
// x-fb-account-id and x-limechat-uat must match (401), the event must be a
// name without spaces and distinct_id must be set (422). Accepted events are
// recorded and answered 200 {"status":"ok"}.
func (f *Fake) handleFlowEvent(w http.ResponseWriter, r *http.Request) {
	if !headerMatches(r.Header.Get("x-fb-account-id"), f.opts.FlowBuilderAccountID) ||
		!headerMatches(r.Header.Get("x-limechat-uat"), f.opts.FlowBuilderKey) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": "error", "error": "Unauthorized"})
		return
	}
	var ev service.FlowEvent
	if !decodeBody(w, r, &ev) {
		return
	}
	switch {
	case ev.Event == "" || strings.IndexFunc(ev.Event, unicode.IsSpace) >= 0:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "error", "error": "event must be a name without spaces"})
		return
	case ev.DistinctID == "":
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "error", "error": "distinct_id is required"})
		return
	}
	f.mu.Lock()
	f.flowEvents = append(f.flowEvents, ev)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// headerMatches: the header must be present, and equal want when want is set.
func headerMatches(got, want string) bool {
	return got != "" && (want == "" || got == want)
}

// FlowEvents returns the accepted Flow-builder events, in arrival order.
func (f *Fake) FlowEvents() []service.FlowEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.flowEvents)
	for i := range out {
		out[i].Data = maps.Clone(out[i].Data)
	}
	return out
}
