package main

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestPersonAPIActsOnTheFakes drives the sandbox's /_person/ endpoints the
// way its printed curl examples do, and checks the fakes changed and
// lsqbridge followed.
func TestPersonAPIActsOnTheFakes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	call := func(base, method, path string, body any, out any) int {
		t.Helper()
		orig := w.URL
		w.URL = base
		defer func() { w.URL = orig }()
		a := w.call(method, path, nil, body)
		if out != nil && a.status == http.StatusOK {
			a.decode(t, out)
		}
		return a.status
	}
	var lead service.Record
	if s := call(w.LSQURL, http.MethodPost, "/_person/leads",
		map[string]any{"fields": map[string]string{"FirstName": "Per", "EmailAddress": "per@example.com"}, "owner": "asha@acme.test"}, &lead); s != http.StatusOK {
		t.Fatalf("create lead = %d", s)
	}
	if lead.OwnerID != w.Users["asha@acme.test"].ID {
		t.Errorf("lead owner %s, want Asha", lead.OwnerID)
	}
	w.settle()
	tk := w.ticketOf(lead.ID)
	// Only an owner in a fields call: it must still be applied.
	if s := call(w.LSQURL, http.MethodPost, "/_person/leads/"+lead.ID+"/fields", map[string]any{"owner": "ravi@acme.test"}, &lead); s != http.StatusOK || lead.OwnerID != w.Users["ravi@acme.test"].ID {
		t.Errorf("fields with only an owner = %d, owner %s", s, lead.OwnerID)
	}
	w.settle()
	if got := w.ticketOf(lead.ID).AssigneeID; got != w.agentID("ravi@acme.test") {
		t.Errorf("lsqbridge did not follow the owner change: agent %d", got)
	}
	var ticket service.Ticket
	path := "/_person/conversations/" + strconv.FormatInt(tk.ID, 10)
	if s := call(w.LCURL, http.MethodPost, path+"/labels", map[string]string{"label": "vip"}, &ticket); s != http.StatusOK || !ticket.HasLabel("vip") {
		t.Errorf("add label = %d, labels %v", s, ticket.Labels)
	}
	if s := call(w.LCURL, http.MethodDelete, path+"/labels/vip", nil, &ticket); s != http.StatusOK || ticket.HasLabel("vip") {
		t.Errorf("remove label = %d, labels %v", s, ticket.Labels)
	}
	if s := call(w.LCURL, http.MethodPost, path+"/assign", map[string]string{"email": "nobody@acme.test"}, nil); s != http.StatusUnprocessableEntity {
		t.Errorf("assign to an unknown agent = %d, want 422", s)
	}
	if s := call(w.LSQURL, http.MethodGet, "/_person/leads/no-such-lead", nil, nil); s != http.StatusNotFound {
		t.Errorf("unknown lead = %d, want 404", s)
	}
	if s := call(w.LSQURL, http.MethodPost, "/_person/leads", "not an object", nil); s != http.StatusBadRequest {
		t.Errorf("bad body = %d, want 400", s)
	}
}
