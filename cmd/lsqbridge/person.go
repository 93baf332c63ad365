package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

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

type personReply struct {
	w http.ResponseWriter
}

func (p personReply) ok(v any) {
	p.w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(p.w).Encode(v)
}

func (p personReply) fail(status int, err error) {
	p.w.Header().Set("Content-Type", "application/json")
	p.w.WriteHeader(status)
	_ = json.NewEncoder(p.w).Encode(map[string]string{"error": err.Error()})
}

func decodeJSON(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
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
		return "", fmt.Errorf("no LeadSquared user %s", email)
	}
	type fieldsBody struct {
		Fields map[string]string `json:"fields"`
		Owner  string            `json:"owner"` // e-mail
	}
	withOwner := func(b fieldsBody, key string) error {
		if b.Owner == "" {
			return nil
		}
		id, err := userID(b.Owner)
		if err != nil {
			return err
		}
		if b.Fields == nil {
			b.Fields = map[string]string{}
		}
		b.Fields[key] = id
		return nil
	}
	mux.HandleFunc("GET /_person/users", func(w http.ResponseWriter, r *http.Request) { personReply{w}.ok(f.Users()) })
	mux.HandleFunc("GET /_person/leads", func(w http.ResponseWriter, r *http.Request) { personReply{w}.ok(f.Leads()) })
	mux.HandleFunc("POST /_person/leads", func(w http.ResponseWriter, r *http.Request) {
		var b fieldsBody
		if err := decodeJSON(r, &b); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		if b.Fields == nil {
			b.Fields = map[string]string{}
		}
		if err := withOwner(b, "OwnerId"); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		rec, err := f.CreateLead(b.Fields)
		if err != nil {
			personReply{w}.fail(422, err)
			return
		}
		personReply{w}.ok(rec)
	})
	mux.HandleFunc("GET /_person/leads/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, ok := f.Lead(r.PathValue("id"))
		if !ok {
			personReply{w}.fail(404, fmt.Errorf("no lead %s", r.PathValue("id")))
			return
		}
		personReply{w}.ok(rec)
	})
	mux.HandleFunc("GET /_person/leads/{id}/activities", func(w http.ResponseWriter, r *http.Request) {
		personReply{w}.ok(f.Activities(r.PathValue("id")))
	})
	mux.HandleFunc("POST /_person/leads/{id}/owner", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Email string `json:"email"`
		}
		if err := decodeJSON(r, &b); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		id, err := userID(b.Email)
		if err == nil {
			err = f.ChangeLeadOwner(r.PathValue("id"), id)
		}
		if err != nil {
			personReply{w}.fail(422, err)
			return
		}
		personReply{w}.ok(map[string]string{"owner": id})
	})
	mux.HandleFunc("POST /_person/leads/{id}/fields", func(w http.ResponseWriter, r *http.Request) {
		var b fieldsBody
		if err := decodeJSON(r, &b); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		if err := f.SetLeadFields(r.PathValue("id"), b.Fields); err != nil {
			personReply{w}.fail(422, err)
			return
		}
		rec, _ := f.Lead(r.PathValue("id"))
		personReply{w}.ok(rec)
	})
	mux.HandleFunc("POST /_person/leads/{id}/opportunities", func(w http.ResponseWriter, r *http.Request) {
		var b fieldsBody
		if err := decodeJSON(r, &b); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		if b.Fields == nil {
			b.Fields = map[string]string{}
		}
		if err := withOwner(b, "Owner"); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		rec, err := f.CreateOpportunity(r.PathValue("id"), b.Fields)
		if err != nil {
			personReply{w}.fail(422, err)
			return
		}
		personReply{w}.ok(rec)
	})
	mux.HandleFunc("GET /_person/opportunities/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, ok := f.Opportunity(r.PathValue("id"))
		if !ok {
			personReply{w}.fail(404, fmt.Errorf("no opportunity %s", r.PathValue("id")))
			return
		}
		personReply{w}.ok(rec)
	})
	mux.HandleFunc("POST /_person/opportunities/{id}/fields", func(w http.ResponseWriter, r *http.Request) {
		var b fieldsBody
		if err := decodeJSON(r, &b); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		if err := withOwner(b, "Owner"); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		if err := f.UpdateOpportunity(r.PathValue("id"), b.Fields); err != nil {
			personReply{w}.fail(422, err)
			return
		}
		rec, _ := f.Opportunity(r.PathValue("id"))
		personReply{w}.ok(rec)
	})
	// POST /_person/webhooks {"url_base": "...", "header": {...}}: where this
	// fake sends its webhooks, one URL per event (url_base + "/" + event).
	mux.HandleFunc("POST /_person/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			URLBase string            `json:"url_base"`
			Header  map[string]string `json:"header"`
		}
		if err := decodeJSON(r, &b); err != nil || b.URLBase == "" {
			personReply{w}.fail(400, fmt.Errorf("want {\"url_base\": …, \"header\": {…}}: %v", err))
			return
		}
		h := http.Header{}
		for k, v := range b.Header {
			h.Set(k, v)
		}
		for _, ev := range leadSquaredEvents {
			f.SetWebhook(ev, strings.TrimRight(b.URLBase, "/")+"/"+ev, h)
		}
		personReply{w}.ok(map[string]any{"events": leadSquaredEvents})
	})
	return mux
}

// leadSquaredEvents are the webhook events lsqbridge takes, one URL each.
var leadSquaredEvents = []string{"lead-created", "lead-updated", "lead-owner-changed", "lead-stage-changed",
	"opportunity-created", "opportunity-updated", "opportunity-stage-changed"}

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
	convID := func(r *http.Request) (int64, error) {
		return strconv.ParseInt(r.PathValue("id"), 10, 64)
	}
	mux.HandleFunc("GET /_person/agents", func(w http.ResponseWriter, r *http.Request) { personReply{w}.ok(f.Agents()) })
	mux.HandleFunc("GET /_person/flow-events", func(w http.ResponseWriter, r *http.Request) { personReply{w}.ok(f.FlowEvents()) })
	mux.HandleFunc("GET /_person/conversations", func(w http.ResponseWriter, r *http.Request) {
		rid := r.URL.Query().Get("lsq_record_id")
		out := []service.Ticket{}
		for _, c := range f.Conversations() {
			if rid == "" || c.CustomAttributes["lsq_record_id"] == rid {
				out = append(out, c)
			}
		}
		personReply{w}.ok(out)
	})
	mux.HandleFunc("POST /_person/conversations", func(w http.ResponseWriter, r *http.Request) {
		var c service.Contact
		if err := decodeJSON(r, &c); err != nil {
			personReply{w}.fail(400, err)
			return
		}
		t, err := f.CreateConversationByPerson(c)
		if err != nil {
			personReply{w}.fail(422, err)
			return
		}
		personReply{w}.ok(t)
	})
	mux.HandleFunc("POST /_person/conversations/{id}/assign", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Email string `json:"email"`
		}
		id, err := convID(r)
		if err == nil {
			err = decodeJSON(r, &b)
		}
		var agent int64
		if err == nil {
			agent, err = agentID(b.Email)
		}
		if err == nil {
			err = f.AssignAgent(id, agent)
		}
		if err != nil {
			personReply{w}.fail(422, err)
			return
		}
		t, _ := f.Conversation(id)
		personReply{w}.ok(t)
	})
	mux.HandleFunc("POST /_person/conversations/{id}/labels", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Label string `json:"label"`
		}
		id, err := convID(r)
		if err == nil {
			err = decodeJSON(r, &b)
		}
		if err == nil {
			err = f.AddLabel(id, b.Label)
		}
		if err != nil {
			personReply{w}.fail(422, err)
			return
		}
		t, _ := f.Conversation(id)
		personReply{w}.ok(t)
	})
	mux.HandleFunc("DELETE /_person/conversations/{id}/labels/{label}", func(w http.ResponseWriter, r *http.Request) {
		id, err := convID(r)
		if err == nil {
			err = f.RemoveLabel(id, r.PathValue("label"))
		}
		if err != nil {
			personReply{w}.fail(422, err)
			return
		}
		t, _ := f.Conversation(id)
		personReply{w}.ok(t)
	})
	// POST /_person/webhooks {"url": "...", "secret": "...", "automation_url": "..."}
	mux.HandleFunc("POST /_person/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			URL           string `json:"url"`
			Secret        string `json:"secret"`
			AutomationURL string `json:"automation_url"`
		}
		if err := decodeJSON(r, &b); err != nil || b.URL == "" {
			personReply{w}.fail(400, fmt.Errorf("want {\"url\": …, \"secret\": …, \"automation_url\": …}: %v", err))
			return
		}
		var secret []byte
		if b.Secret != "" {
			secret = []byte(b.Secret)
		}
		f.SetWebhook(b.URL, nil, secret)
		if b.AutomationURL != "" {
			f.SetAutomationWebhook(b.AutomationURL, nil)
		}
		personReply{w}.ok(map[string]string{"url": "set"})
	})
	return mux
}
