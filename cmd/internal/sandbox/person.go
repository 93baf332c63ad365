package sandbox

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

// The "person" API lets a newcomer (or a script) act as a human on the
// sandbox's fakes over HTTP: the same plain Go methods tests use, each
// firing the platform's webhooks. It is mounted under /_person/ on each
// fake's server, next to the platform API it imitates.

// withPerson serves /_person/ from person and everything else from fake.
func withPerson(fake, person http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/_person/", person)
	mux.Handle("/", fake)
	return mux
}

// personError carries the HTTP status of a failed person action; any other
// error is the fake refusing the action (422).
type personError struct {
	status int
	err    error
}

func (e *personError) Error() string { return e.err.Error() }

func badRequest(err error) error { return &personError{http.StatusBadRequest, err} }
func notFound(err error) error   { return &personError{http.StatusNotFound, err} }

// handle serves one person action as JSON: do's result, or its error with
// its status.
func handle(mux *http.ServeMux, pattern string, do func(r *http.Request) (any, error)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, err := do(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status := http.StatusUnprocessableEntity
			var pe *personError
			if errors.As(err, &pe) {
				status = pe.status
			}
			w.WriteHeader(status)
			v = map[string]string{"error": err.Error()}
		}
		_ = json.NewEncoder(w).Encode(v)
	})
}

// decodeJSON reads an optional JSON body into v; a malformed one is a 400.
func decodeJSON(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return badRequest(fmt.Errorf("body: %w", err))
	}
	return nil
}

// leadSquaredPerson acts as a LeadSquared user.
func leadSquaredPerson(f *lsqfake.Fake) http.Handler {
	mux := http.NewServeMux()
	userID := func(email string) (string, error) {
		for _, u := range f.Users() {
			if strings.EqualFold(u.Email, email) {
				return u.ID, nil
			}
		}
		return "", badRequest(fmt.Errorf("no LeadSquared user %s", email))
	}
	// fields decodes {"fields": {…}, "owner": "e-mail"}, the owner becoming
	// the ownerKey field (OwnerId on leads, Owner on opportunities).
	fields := func(r *http.Request, ownerKey string) (map[string]string, error) {
		var b struct {
			Fields map[string]string `json:"fields"`
			Owner  string            `json:"owner"`
		}
		if err := decodeJSON(r, &b); err != nil {
			return nil, err
		}
		if b.Fields == nil {
			b.Fields = map[string]string{}
		}
		if b.Owner != "" {
			id, err := userID(b.Owner)
			if err != nil {
				return nil, err
			}
			b.Fields[ownerKey] = id
		}
		return b.Fields, nil
	}
	lead := func(id string) (any, error) {
		rec, ok := f.Lead(id)
		if !ok {
			return nil, notFound(fmt.Errorf("no lead %s", id))
		}
		return rec, nil
	}
	opportunity := func(id string) (any, error) {
		rec, ok := f.Opportunity(id)
		if !ok {
			return nil, notFound(fmt.Errorf("no opportunity %s", id))
		}
		return rec, nil
	}

	handle(mux, "GET /_person/users", func(*http.Request) (any, error) { return f.Users(), nil })
	handle(mux, "GET /_person/leads", func(*http.Request) (any, error) { return f.Leads(), nil })
	handle(mux, "POST /_person/leads", func(r *http.Request) (any, error) {
		fs, err := fields(r, "OwnerId")
		if err != nil {
			return nil, err
		}
		return f.CreateLead(fs)
	})
	handle(mux, "GET /_person/leads/{id}", func(r *http.Request) (any, error) { return lead(r.PathValue("id")) })
	handle(mux, "GET /_person/leads/{id}/activities", func(r *http.Request) (any, error) {
		return f.Activities(r.PathValue("id")), nil
	})
	handle(mux, "POST /_person/leads/{id}/owner", func(r *http.Request) (any, error) {
		var b struct {
			Email string `json:"email"`
		}
		if err := decodeJSON(r, &b); err != nil {
			return nil, err
		}
		id, err := userID(b.Email)
		if err != nil {
			return nil, err
		}
		if err := f.ChangeLeadOwner(r.PathValue("id"), id); err != nil {
			return nil, err
		}
		return map[string]string{"owner": id}, nil
	})
	handle(mux, "POST /_person/leads/{id}/fields", func(r *http.Request) (any, error) {
		fs, err := fields(r, "OwnerId")
		if err == nil {
			err = f.SetLeadFields(r.PathValue("id"), fs)
		}
		if err != nil {
			return nil, err
		}
		return lead(r.PathValue("id"))
	})
	handle(mux, "POST /_person/leads/{id}/opportunities", func(r *http.Request) (any, error) {
		fs, err := fields(r, "Owner")
		if err != nil {
			return nil, err
		}
		return f.CreateOpportunity(r.PathValue("id"), fs)
	})
	handle(mux, "GET /_person/opportunities/{id}", func(r *http.Request) (any, error) { return opportunity(r.PathValue("id")) })
	handle(mux, "POST /_person/opportunities/{id}/fields", func(r *http.Request) (any, error) {
		fs, err := fields(r, "Owner")
		if err == nil {
			err = f.UpdateOpportunity(r.PathValue("id"), fs)
		}
		if err != nil {
			return nil, err
		}
		return opportunity(r.PathValue("id"))
	})
	// POST /_person/webhooks {"url_base": "...", "header": {...}}: where this
	// fake sends its webhooks, one URL per event (url_base + "/" + event).
	handle(mux, "POST /_person/webhooks", func(r *http.Request) (any, error) {
		var b struct {
			URLBase string            `json:"url_base"`
			Header  map[string]string `json:"header"`
		}
		if err := decodeJSON(r, &b); err != nil || b.URLBase == "" {
			return nil, badRequest(fmt.Errorf("want {\"url_base\": …, \"header\": {…}}: %v", err))
		}
		h := http.Header{}
		for k, v := range b.Header {
			h.Set(k, v)
		}
		events := leadsquared.WebhookEvents()
		for _, ev := range events {
			f.SetWebhook(ev, strings.TrimRight(b.URLBase, "/")+"/"+ev, h)
		}
		return map[string]any{"events": events}, nil
	})
	handleDeliveries(mux, f.Hooks())
	return mux
}

// WebhookResult is one webhook a fake sent, as GET /_person/webhooks/deliveries lists it.
type WebhookResult struct {
	URL     string `json:"url"`
	Status  int    `json:"status"` // 0 when no answer came
	Error   string `json:"error,omitempty"`
	Dropped bool   `json:"dropped,omitempty"`
	Body    []byte `json:"body"`
}

// handleDeliveries serves GET /_person/webhooks/deliveries: every webhook
// the fake sent (or dropped) and the answer it got, so a script can check
// that what lsqbridge acknowledged it also kept.
func handleDeliveries(mux *http.ServeMux, hooks *fakehooks.Sender) {
	// GET /_person/webhooks/outstanding: how many webhooks are queued or
	// being posted, so a script can wait until the fake has sent everything.
	handle(mux, "GET /_person/webhooks/outstanding", func(*http.Request) (any, error) {
		return map[string]int{"outstanding": hooks.Outstanding()}, nil
	})
	handle(mux, "GET /_person/webhooks/deliveries", func(*http.Request) (any, error) {
		rs := hooks.Results()
		out := make([]WebhookResult, len(rs))
		for i, r := range rs {
			out[i] = WebhookResult{URL: r.Delivery.URL, Status: r.Status, Dropped: r.Dropped, Body: r.Delivery.Body}
			if r.Err != nil {
				out[i].Error = r.Err.Error()
			}
		}
		return out, nil
	})
}

// limeChatPerson acts as a LimeChat agent.
func limeChatPerson(f *limechatfake.Fake) http.Handler {
	mux := http.NewServeMux()
	agentID := func(email string) (int64, error) {
		for _, a := range f.Agents() {
			if strings.EqualFold(a.Email, email) {
				return strconv.ParseInt(a.ID, 10, 64)
			}
		}
		return 0, fmt.Errorf("no LimeChat agent %s", email)
	}
	// onConversation runs change on the path's conversation and answers it.
	onConversation := func(r *http.Request, change func(id int64) error) (any, error) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err == nil {
			err = change(id)
		}
		if err != nil {
			return nil, err
		}
		t, _ := f.Conversation(id)
		return t, nil
	}

	handle(mux, "GET /_person/agents", func(*http.Request) (any, error) { return f.Agents(), nil })
	handle(mux, "GET /_person/flow-events", func(*http.Request) (any, error) { return f.FlowEvents(), nil })
	handle(mux, "GET /_person/contacts", func(*http.Request) (any, error) { return f.Contacts(), nil })
	handle(mux, "GET /_person/conversations", func(r *http.Request) (any, error) {
		rid := r.URL.Query().Get("lsq_record_id")
		out := []service.Ticket{}
		for _, c := range f.Conversations() {
			if rid == "" || c.CustomAttributes["lsq_record_id"] == rid {
				out = append(out, c)
			}
		}
		return out, nil
	})
	handle(mux, "POST /_person/conversations", func(r *http.Request) (any, error) {
		var c service.Contact
		if err := decodeJSON(r, &c); err != nil {
			return nil, err
		}
		return f.CreateConversationByPerson(c)
	})
	handle(mux, "POST /_person/conversations/{id}/assign", func(r *http.Request) (any, error) {
		return onConversation(r, func(id int64) error {
			var b struct {
				Email string `json:"email"`
			}
			if err := decodeJSON(r, &b); err != nil {
				return err
			}
			agent, err := agentID(b.Email)
			if err != nil {
				return err
			}
			return f.AssignAgent(id, agent)
		})
	})
	handle(mux, "POST /_person/conversations/{id}/labels", func(r *http.Request) (any, error) {
		return onConversation(r, func(id int64) error {
			var b struct {
				Label string `json:"label"`
			}
			if err := decodeJSON(r, &b); err != nil {
				return err
			}
			return f.AddLabel(id, b.Label)
		})
	})
	handle(mux, "DELETE /_person/conversations/{id}/labels/{label}", func(r *http.Request) (any, error) {
		return onConversation(r, func(id int64) error { return f.RemoveLabel(id, r.PathValue("label")) })
	})
	// GET /_person/conversations/{id}/messages: the messages and private
	// notes (lsqbridge's notes to agents among them), oldest first.
	handle(mux, "GET /_person/conversations/{id}/messages", func(r *http.Request) (any, error) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return nil, notFound(err)
		}
		ms, err := f.Messages(id)
		if err != nil {
			return nil, notFound(err)
		}
		return ms, nil
	})
	// POST /_person/conversations/{id}/close: the ticket reaches LimeChat's
	// Closed state (an agent, or the inbox's Auto Close timer).
	handle(mux, "POST /_person/conversations/{id}/close", func(r *http.Request) (any, error) {
		return onConversation(r, f.CloseConversation)
	})
	// POST /_person/conversations/{id}/customer-messages {"content": "…"}:
	// the customer writes on WhatsApp. To a closed ticket that opens a new
	// conversation (answered here); a resolved one opens again.
	handle(mux, "POST /_person/conversations/{id}/customer-messages", func(r *http.Request) (any, error) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return nil, notFound(err)
		}
		var b struct {
			Content string `json:"content"`
		}
		if err := decodeJSON(r, &b); err != nil {
			return nil, err
		}
		return f.CustomerWrites(id, cmp.Or(b.Content, "Hello again"))
	})
	// POST /_person/webhooks {"url": "...", "secret": "...", "automation_url": "..."}
	handle(mux, "POST /_person/webhooks", func(r *http.Request) (any, error) {
		var b struct {
			URL           string `json:"url"`
			Secret        string `json:"secret"`
			AutomationURL string `json:"automation_url"`
		}
		if err := decodeJSON(r, &b); err != nil || b.URL == "" {
			return nil, badRequest(fmt.Errorf("want {\"url\": …, \"secret\": …, \"automation_url\": …}: %v", err))
		}
		var secret []byte
		if b.Secret != "" {
			secret = []byte(b.Secret)
		}
		f.SetWebhook(b.URL, nil, secret)
		if b.AutomationURL != "" {
			f.SetAutomationWebhook(b.AutomationURL, nil)
		}
		return map[string]string{"url": "set"}, nil
	})
	handleDeliveries(mux, f.Hooks())
	return mux
}
