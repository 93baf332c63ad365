package limechatfake

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

type agent struct {
	id    int64
	name  string
	email string
	role  string
}

func (a *agent) toService() service.User {
	return service.User{ID: strconv.FormatInt(a.id, 10), Email: a.email, Name: a.name, Active: true}
}

// sortedAgentsLocked orders agents like Chatwoot's /agents: by name, then id.
func (f *Fake) sortedAgentsLocked() []*agent {
	out := make([]*agent, 0, len(f.agents))
	for _, a := range f.agents {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *agent) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)), cmp.Compare(a.id, b.id))
	})
	return out
}

// handleAgents serves GET /agents → a JSON array of agent partials.
func (f *Fake) handleAgents(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []any{}
	for _, a := range f.sortedAgentsLocked() {
		out = append(out, f.agentREST(a))
	}
	writeJSON(w, http.StatusOK, out)
}

// Agents returns the account's agents in /agents order.
func (f *Fake) Agents() []service.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []service.User
	for _, a := range f.sortedAgentsLocked() {
		out = append(out, a.toService())
	}
	return out
}
