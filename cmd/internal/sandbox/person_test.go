package sandbox

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
	s := setup(t)
	var lead service.Record
	if st := call(t, s.LSQURL, http.MethodPost, "/_person/leads",
		map[string]any{"fields": map[string]string{"FirstName": "Per", "EmailAddress": "per@example.com"}, "owner": "asha@acme.test"}, &lead); st != http.StatusOK {
		t.Fatalf("create lead = %d", st)
	}
	if lead.OwnerID != s.Users["asha@acme.test"].ID {
		t.Errorf("lead owner %s, want Asha", lead.OwnerID)
	}
	settle(t, s)
	tk := ticketOf(t, s, lead.ID)
	// Only an owner in a fields call: it must still be applied.
	if st := call(t, s.LSQURL, http.MethodPost, "/_person/leads/"+lead.ID+"/fields", map[string]any{"owner": "ravi@acme.test"}, &lead); st != http.StatusOK || lead.OwnerID != s.Users["ravi@acme.test"].ID {
		t.Errorf("fields with only an owner = %d, owner %s", st, lead.OwnerID)
	}
	settle(t, s)
	ravi, err := strconv.ParseInt(s.Agents["ravi@acme.test"].ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := ticketOf(t, s, lead.ID).AssigneeID; got != ravi {
		t.Errorf("lsqbridge did not follow the owner change: agent %d", got)
	}
	var ticket service.Ticket
	path := "/_person/conversations/" + strconv.FormatInt(tk.ID, 10)
	if st := call(t, s.LCURL, http.MethodPost, path+"/labels", map[string]string{"label": "vip"}, &ticket); st != http.StatusOK || !ticket.HasLabel("vip") {
		t.Errorf("add label = %d, labels %v", st, ticket.Labels)
	}
	if st := call(t, s.LCURL, http.MethodDelete, path+"/labels/vip", nil, &ticket); st != http.StatusOK || ticket.HasLabel("vip") {
		t.Errorf("remove label = %d, labels %v", st, ticket.Labels)
	}
	if st := call(t, s.LCURL, http.MethodPost, path+"/assign", map[string]string{"email": "nobody@acme.test"}, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("assign to an unknown agent = %d, want 422", st)
	}
	if st := call(t, s.LSQURL, http.MethodGet, "/_person/leads/no-such-lead", nil, nil); st != http.StatusNotFound {
		t.Errorf("unknown lead = %d, want 404", st)
	}
	if st := call(t, s.LSQURL, http.MethodPost, "/_person/leads", "not an object", nil); st != http.StatusBadRequest {
		t.Errorf("bad body = %d, want 400", st)
	}
}
