package limechatfake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// filterPageSize is Chatwoot's conversations page size.
const filterPageSize = 25

// handleCreateConversation serves POST /conversations → the conversation partial.
func (f *Fake) handleCreateConversation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		InboxID          int64          `json:"inbox_id"`
		ContactID        int64          `json:"contact_id"`
		AssigneeID       int64          `json:"assignee_id"`
		Status           string         `json:"status"`
		CustomAttributes map[string]any `json:"custom_attributes"`
		Message          *struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.contacts[in.ContactID]; !ok || in.InboxID != f.opts.InboxID {
		writeNotFound(w)
		return
	}
	if in.Status != "" && !slices.Contains(statuses, in.Status) {
		writeUnprocessable(w, fmt.Sprintf("'%s' is not a valid status", in.Status), "status")
		return
	}
	nc := newConversation{contactID: in.ContactID, assigneeID: in.AssigneeID, status: in.Status, custom: in.CustomAttributes}
	if in.Message != nil {
		nc.message = in.Message.Content
	}
	c := f.createConversationLocked(nc)
	writeJSON(w, http.StatusOK, f.conversationREST(c))
}

// handleGetConversation serves GET /conversations/{id}.
func (f *Fake) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	c, ok := f.conversationFor(w, r)
	if !ok {
		return
	}
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.conversationREST(c))
}

// filterCondition is one entry of Chatwoot's filter DSL.
type filterCondition struct {
	AttributeKey   string  `json:"attribute_key"`
	FilterOperator string  `json:"filter_operator"`
	Values         []any   `json:"values"`
	QueryOperator  *string `json:"query_operator"`
}

// handleFilterConversations serves POST /conversations/filter?page= with
// equal_to / not_equal_to on status, assignee_id, inbox_id, display_id or a
// custom attribute, chained left to right by query_operator (and/or).
// Results are newest activity first, 25 a page.
func (f *Fake) handleFilterConversations(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Payload []filterCondition `json:"payload"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if len(in.Payload) == 0 {
		writeUnprocessable(w, "Filter payload is empty")
		return
	}
	for _, fc := range in.Payload {
		if fc.FilterOperator != "equal_to" && fc.FilterOperator != "not_equal_to" {
			writeUnprocessable(w, fmt.Sprintf("Invalid operator. The allowed operators for %s are [equal_to,not_equal_to].", fc.AttributeKey))
			return
		}
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)

	f.mu.Lock()
	defer f.mu.Unlock()
	var found []*conversation
	unassigned := 0
	for _, c := range f.conversations {
		if f.matchesFilter(c, in.Payload) {
			found = append(found, c)
			if c.assigneeID == 0 {
				unassigned++
			}
		}
	}
	slices.SortFunc(found, func(a, b *conversation) int {
		return cmp.Or(b.lastActivity.Compare(a.lastActivity), cmp.Compare(b.id, a.id))
	})
	payload := []any{}
	for i := (page - 1) * filterPageSize; i < len(found) && i < page*filterPageSize; i++ {
		payload = append(payload, f.conversationREST(found[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"meta":    map[string]any{"mine_count": 0, "unassigned_count": unassigned, "all_count": len(found)},
		"payload": payload,
	})
}

func (f *Fake) matchesFilter(c *conversation, conds []filterCondition) bool {
	result := false
	for i, fc := range conds {
		m := conditionHolds(c, fc)
		if i == 0 {
			result = m
			continue
		}
		op := conds[i-1].QueryOperator
		if op != nil && strings.EqualFold(*op, "or") {
			result = result || m
		} else {
			result = result && m
		}
	}
	return result
}

func conditionHolds(c *conversation, fc filterCondition) bool {
	var actual string
	switch fc.AttributeKey {
	case "status":
		actual = c.status
	case "assignee_id":
		actual = strconv.FormatInt(c.assigneeID, 10)
	case "inbox_id":
		actual = strconv.FormatInt(c.inboxID, 10)
	case "display_id":
		actual = strconv.FormatInt(c.id, 10)
	default:
		v, ok := c.custom[fc.AttributeKey]
		if !ok || v == nil {
			return fc.FilterOperator == "not_equal_to"
		}
		actual = text(v)
	}
	hit := slices.ContainsFunc(fc.Values, func(v any) bool { return text(v) == actual })
	return hit == (fc.FilterOperator == "equal_to")
}

// text renders a JSON value the way Postgres' ->> would.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// handleAssign serves POST /conversations/{id}/assignments {assignee_id}:
// the agent's JSON, or null when the id is null or not an agent (unassigned).
func (f *Fake) handleAssign(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AssigneeID *int64 `json:"assignee_id"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	c, ok := f.conversationFor(w, r)
	if !ok {
		return
	}
	defer f.mu.Unlock()
	var id int64
	if in.AssigneeID != nil {
		id = *in.AssigneeID
	}
	f.assignLocked(c, id)
	if a, ok := f.agents[c.assigneeID]; ok {
		writeJSON(w, http.StatusOK, f.agentREST(a))
		return
	}
	writeJSON(w, http.StatusOK, nil)
}

// handleGetLabels serves GET /conversations/{id}/labels → {payload:[…]}.
func (f *Fake) handleGetLabels(w http.ResponseWriter, r *http.Request) {
	c, ok := f.conversationFor(w, r)
	if !ok {
		return
	}
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"payload": slices.Clone(c.labels)})
}

// handleSetLabels serves POST /conversations/{id}/labels {labels}: the list
// REPLACES the conversation's labels (a missing list clears them).
func (f *Fake) handleSetLabels(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Labels []string `json:"labels"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	c, ok := f.conversationFor(w, r)
	if !ok {
		return
	}
	defer f.mu.Unlock()
	f.setLabelsLocked(c, in.Labels)
	writeJSON(w, http.StatusOK, map[string]any{"payload": slices.Clone(c.labels)})
}

// handleSetCustomAttributes serves POST /conversations/{id}/custom_attributes
// {custom_attributes}: the hash REPLACES the conversation's whole hash.
func (f *Fake) handleSetCustomAttributes(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CustomAttributes map[string]any `json:"custom_attributes"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	c, ok := f.conversationFor(w, r)
	if !ok {
		return
	}
	defer f.mu.Unlock()
	f.setCustomLocked(c, in.CustomAttributes)
	writeJSON(w, http.StatusOK, map[string]any{"custom_attributes": c.custom})
}
