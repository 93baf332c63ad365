package httpapi

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/service"
)

//go:embed templates
var templateFS embed.FS

var pageTemplates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// maxFormBody caps a form submission.
const maxFormBody = 64 << 10

// FormService is what the form routes need (service.Forms does it).
type FormService interface {
	Form(ctx context.Context, in *service.Integration, ticketID int64) (*service.Form, error)
	Submit(ctx context.Context, in *service.Integration, ticketID int64, sub service.Submission) (*service.Submitted, error)
	Automate(ctx context.Context, in *service.Integration, ev service.Event, raw []byte) (service.AutomationResult, error)
	// CheckTicket says whether the Dashboard App key may open a ticket's
	// form (service.ErrTicketNotInInbox when not).
	CheckTicket(ctx context.Context, in *service.Integration, ticketID int64) error
}

// Forms serves the opportunity form: its JSON API, the agent page, the
// LimeChat Dashboard App entry page, and (through Automation) the
// automation webhook's submissions.
type Forms struct {
	Integrations Authenticator
	Service      FormService
	Logger       *slog.Logger
	// PublicURL is how browsers reach lsqbridge, for absolute links; when
	// empty, the scheme and host the request came in with.
	PublicURL string
	// Now is the clock for signed links (time.Now when nil).
	Now func() time.Time

	refused *prometheus.CounterVec
}

func (f *Forms) register(r *mux.Router) {
	const base = "/v1/integrations/{integration}/tickets/{ticket:[0-9]+}/opportunity-form"
	r.HandleFunc(base, f.getForm).Methods(http.MethodGet)
	r.HandleFunc(base, f.submit).Methods(http.MethodPost)
	r.HandleFunc(base+"/link", f.link).Methods(http.MethodGet)
	r.HandleFunc(base+"/page", f.page).Methods(http.MethodGet)
	r.HandleFunc("/v1/integrations/{integration}/dashboard-app", f.dashboardApp).Methods(http.MethodGet)
	r.HandleFunc("/v1/integrations/{integration}/dashboard-app/config", f.dashboardConfig).Methods(http.MethodGet)
	r.HandleFunc("/v1/assets/{name}", f.asset).Methods(http.MethodGet)
}

func (f *Forms) log() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

func (f *Forms) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// getForm handles GET /v1/integrations/{integration}/tickets/{ticket}/opportunity-form:
// the form's fields with their pre-filled values.
func (f *Forms) getForm(w http.ResponseWriter, r *http.Request) {
	in, ticket, aerr := f.admitLink(r, "form")
	if aerr != nil {
		writeError(w, aerr.status, aerr.msg)
		return
	}
	form, err := f.Service.Form(r.Context(), in, ticket)
	if err != nil {
		f.serviceError(w, in, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, form)
}

// submit handles POST /v1/integrations/{integration}/tickets/{ticket}/opportunity-form:
// body {"fields": {schema: value}, "note": "…"}; a field left out keeps its
// pre-filled value. 201 with the opportunity, 422 {"errors": {schema: msg}}.
// An Idempotency-Key header makes a repeat return the first answer.
func (f *Forms) submit(w http.ResponseWriter, r *http.Request) {
	in, ticket, aerr := f.admitLink(r, "form")
	if aerr != nil {
		writeError(w, aerr.status, aerr.msg)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if !validKey(key) {
		writeError(w, http.StatusBadRequest, "Idempotency-Key must be 1 to 200 printable ASCII characters without spaces")
		return
	}
	var body struct {
		Fields map[string]json.RawMessage `json:"fields"`
		Note   string                     `json:"note"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be JSON {\"fields\": {\"<schema name>\": \"<value>\"}, \"note\": \"…\"}: "+err.Error())
		return
	}
	values := make(map[string]string, len(body.Fields))
	lists := map[string][]string{}
	for k, raw := range body.Fields {
		if list, ok := stringList(raw); ok {
			lists[k] = list // a multi-select's options
			continue
		}
		v, ok := scalar(raw)
		if !ok {
			writeError(w, http.StatusBadRequest, "the value of field "+k+" must be a string, number, boolean, null, or (for a multi-select) a list of strings")
			return
		}
		values[k] = v
	}
	res, err := f.Service.Submit(r.Context(), in, ticket, service.Submission{Values: values, Lists: lists, Note: body.Note, IdempotencyKey: key})
	if err != nil {
		f.serviceError(w, in, err)
		return
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, res)
}

// validKey accepts an absent key or 1–200 visible ASCII characters.
func validKey(k string) bool {
	if len(k) > 200 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// stringList reads a JSON array of strings; false for anything else.
func stringList(raw json.RawMessage) ([]string, bool) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return nil, false
	}
	return list, true
}

// scalar renders a JSON scalar as the form's text value; null is "".
func scalar(raw json.RawMessage) (string, bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return "", false
	}
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// formAnswer is how an error of the form service leaves the API: the one
// table from the service's errors to HTTP statuses, used by the JSON API,
// the agent page and the automation route alike.
type formAnswer struct {
	status     int
	msg        string
	fields     map[string]string // per-field problems (422)
	retryAfter time.Duration
}

// body is the JSON answer: {"errors": {field: why}} or {"error": msg}.
func (a formAnswer) body() map[string]any {
	if a.fields != nil {
		return map[string]any{"errors": a.fields}
	}
	return map[string]any{"error": a.msg}
}

// formError maps the form service's errors to answers; platform messages
// are shown (the adapters keep secrets out of them), anything else is
// logged and answered as an internal error.
func (f *Forms) formError(in *service.Integration, err error) formAnswer {
	var verr *service.ValidationError
	var inProgress *service.InProgressError
	var reused *service.KeyReusedError
	var failed *service.FailedError
	var platform service.ClassifiedError
	switch {
	case errors.As(err, &verr):
		return formAnswer{status: http.StatusUnprocessableEntity, msg: "some fields are not valid", fields: verr.Fields}
	case errors.Is(err, service.ErrFormNotConfigured), errors.Is(err, service.ErrTicketNotFound), errors.Is(err, service.ErrTicketNotInInbox):
		return formAnswer{status: http.StatusNotFound, msg: err.Error()}
	case errors.As(err, &inProgress), errors.As(err, &reused):
		return formAnswer{status: http.StatusConflict, msg: err.Error()}
	case errors.As(err, &failed):
		return formAnswer{status: http.StatusBadGateway, msg: failed.Message}
	case errors.As(err, &platform):
		if platform.Class() == service.ClassRateLimited {
			return formAnswer{status: http.StatusServiceUnavailable, msg: err.Error(), retryAfter: platform.RetryAfter()}
		}
		return formAnswer{status: http.StatusBadGateway, msg: err.Error()}
	}
	f.log().Error("opportunity form", "integration", in.ID, "err", err)
	return formAnswer{status: http.StatusInternalServerError, msg: "internal error; the details are in lsqbridge's log"}
}

// serviceError answers a form service error as JSON.
func (f *Forms) serviceError(w http.ResponseWriter, in *service.Integration, err error) {
	a := f.formError(in, err)
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(a.retryAfter.Round(time.Second)/time.Second)))
	}
	writeJSON(w, a.status, a.body())
}

// link handles GET …/opportunity-form/link: a signed link to the ticket's
// agent page, valid for the integration's form.page_link_ttl. Only the
// Dashboard App key opens it (a signed link cannot renew itself), only for a
// ticket linked to the integration or a conversation of its LimeChat inbox,
// and only form.app_links_per_minute times a minute for the whole account.
func (f *Forms) link(w http.ResponseWriter, r *http.Request) {
	in, aerr := f.admitAppKey(r, "link")
	if aerr != nil {
		writeError(w, aerr.status, aerr.msg)
		return
	}
	ticket, err := strconv.ParseInt(mux.Vars(r)["ticket"], 10, 64)
	if err != nil || ticket <= 0 {
		writeError(w, http.StatusNotFound, service.ErrTicketNotInInbox.Error())
		return
	}
	// Counted before the ticket is looked at, so walking through ticket ids
	// is as slow as opening forms.
	wait, err := f.Integrations.TakeAppLink(r.Context(), in.ID, in.Rules.Form.AppLinksPerMinute)
	if err != nil {
		f.log().Error("take a form link", "integration", in.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, unavailableMessage)
		return
	}
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		f.log().Warn("form links rate-limited", "integration", in.ID, "retry_after_seconds", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "too many form links asked for with this Dashboard App key; retry in "+strconv.Itoa(secs)+"s")
		return
	}
	if err := f.Service.CheckTicket(r.Context(), in, ticket); err != nil {
		f.serviceError(w, in, err)
		return
	}
	pl := service.SignPage(in, ticket, f.now())
	q := url.Values{"exp": {strconv.FormatInt(pl.Expires.Unix(), 10)}, "sig": {pl.Signature}}
	p := "/v1/integrations/" + url.PathEscape(in.ID) + "/tickets/" + strconv.FormatInt(ticket, 10) + "/opportunity-form/page?" + q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"path": p, "url": f.baseURL(r) + p, "expires_at": pl.Expires.Format(time.RFC3339)})
}

// baseURL is how browsers reach lsqbridge.
func (f *Forms) baseURL(r *http.Request) string {
	if f.PublicURL != "" {
		return strings.TrimRight(f.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// pageField is a form field as the page renders it.
type pageField struct {
	service.FormField
	Input, Placeholder, InputMode, Hint string
	// Choices are a select's options, each marked when pre-filled; a
	// pre-filled value that is not an option is among them, marked Unlisted:
	// shown, so the agent sees it, and refused by validation.
	Choices []choice
	// Multiple renders a multi-select, Size rows tall.
	Multiple bool
	Size     int
	// DependsOn names the parent select; OptionsJSON holds the options for
	// each of its values, which the page's script swaps in.
	DependsOn, OptionsJSON string
	// DateTime marks a date-time input: the value is UTC, the script shows
	// and reads it in the agent's local time.
	DateTime bool
}

// choice is one option of a select.
type choice struct {
	Value              string
	Selected, Unlisted bool
}

func toPageField(ff service.FormField) pageField {
	p := pageField{FormField: ff, Input: "text"}
	choices := func(opts, selected []string) {
		for _, o := range opts {
			p.Choices = append(p.Choices, choice{Value: o, Selected: slices.Contains(selected, o)})
		}
		for _, v := range selected {
			if !slices.Contains(opts, v) {
				p.Choices = append(p.Choices, choice{Value: v, Selected: true, Unlisted: true})
			}
		}
	}
	var one []string
	if ff.Value != "" {
		one = []string{ff.Value}
	}
	switch ff.Type {
	case "Select":
		if len(ff.Options) == 0 && ff.ParentField == "" {
			// A custom dropdown LeadSquared lists no options for takes
			// any value: typed, not picked from an empty list.
			break
		}
		p.Input = "select"
		choices(ff.Options, one)
		if ff.ParentField != "" {
			b, _ := json.Marshal(ff.OptionsByParent)
			p.DependsOn, p.OptionsJSON = ff.ParentField, string(b)
			p.Hint = "Options depend on " + ff.ParentField
		}
	case service.TypeMultiSelect:
		p.Input, p.Multiple = "select", true
		choices(ff.Options, service.SplitMultiSelect(ff.Value))
		p.Size = min(max(len(p.Choices), 2), 8)
		p.Hint = "Choose any number (Ctrl or ⌘ + click)"
	case "Boolean":
		p.Input = "select"
		choices([]string{"true", "false"}, one)
	case service.TypeDateTime:
		// Text, like dates: the format stays visible. The script shows the
		// UTC value in the agent's local time and sends it with its offset.
		p.DateTime, p.Placeholder = true, "YYYY-MM-DD HH:MM"
		p.Hint = "Your local time, YYYY-MM-DD HH:MM, 24-hour"
	case service.TypeUnsupported:
		p.Hint = "lsqbridge cannot fill this kind of LeadSquared field"
	case "Date":
		// Text, not a date picker: the strict YYYY-MM-DD format is visible
		// and a wrong value reaches the server's message.
		p.Placeholder, p.Hint = "YYYY-MM-DD", "Format YYYY-MM-DD, e.g. 2026-12-20"
	case "Time":
		p.Placeholder = "HH:MM"
	case "Number":
		p.InputMode = "decimal"
	case "Email":
		p.Input = "email"
	case "Phone":
		p.Input = "tel"
	case "Website":
		p.Input = "url"
	}
	return p
}

// page handles GET …/opportunity-form/page?exp=&sig=: the agent page, the
// pre-filled form as server-rendered HTML. It may be framed only by the
// integration's LimeChat (a Dashboard App) and lsqbridge itself.
func (f *Forms) page(w http.ResponseWriter, r *http.Request) {
	in, ticket, aerr := f.admitLink(r, "page")
	if aerr != nil {
		f.renderError(w, r, aerr.status, aerr.msg, nil)
		return
	}
	exp, sig := r.URL.Query().Get("exp"), r.URL.Query().Get("sig")
	if sig == "" { // opened with the link's headers: the page's script needs them
		exp, sig = r.Header.Get(headerLinkExpires), r.Header.Get(headerLinkSignature)
	}
	form, err := f.Service.Form(r.Context(), in, ticket)
	if err != nil {
		a := f.formError(in, err)
		f.renderError(w, r, a.status, a.msg, in)
		return
	}
	data := struct {
		Form     *service.Form
		Fields   []pageField
		Endpoint string
		Exp, Sig string
	}{Form: form, Endpoint: "/v1/integrations/" + url.PathEscape(in.ID) + "/tickets/" + strconv.FormatInt(ticket, 10) + "/opportunity-form",
		Exp: exp, Sig: sig}
	for _, ff := range form.Fields {
		data.Fields = append(data.Fields, toPageField(ff))
	}
	f.render(w, r, http.StatusOK, "form", data, in)
}

// dashboardApp handles GET /v1/integrations/{integration}/dashboard-app:
// the page to configure as a LimeChat Dashboard App, with #key=<app key>.
// It holds no secret and no data, and is the same page for every id (known,
// unknown or disabled alike): its script asks dashboard-app/config with the
// key from the fragment before it does anything. It may be framed by any
// https origin, since it does nothing without the key; the form page it
// opens may be framed only by the integration's LimeChat.
func (f *Forms) dashboardApp(w http.ResponseWriter, r *http.Request) {
	f.render(w, r, http.StatusOK, "dashboard", nil, nil)
}

// dashboardConfig handles GET /v1/integrations/{integration}/dashboard-app/config
// (Dashboard App key): the LimeChat origin the app must take its
// conversation from.
func (f *Forms) dashboardConfig(w http.ResponseWriter, r *http.Request) {
	in, aerr := f.admitAppKey(r, "dashboard")
	if aerr != nil {
		writeError(w, aerr.status, aerr.msg)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"limechat_origin": origin(in.LimeChatURL)})
}

// asset handles GET /v1/assets/{name}: the page's script and style sheet.
func (f *Forms) asset(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	ext := path.Ext(name)
	if ext != ".js" && ext != ".css" {
		writeError(w, http.StatusNotFound, "no such asset")
		return
	}
	b, err := templateFS.ReadFile("templates/" + name)
	if err != nil {
		writeError(w, http.StatusNotFound, "no such asset")
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(ext))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// origin returns scheme://host of a URL, "" when it has none.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// pageHeaders are the security headers of every HTML page. There is no
// X-Frame-Options: frame-ancestors lets LimeChat embed the page (the
// integration's LimeChat for the form; any https origin for the Dashboard
// App's entry page, which does nothing without its key).
func pageHeaders(w http.ResponseWriter, name string, in *service.Integration) {
	ancestors := "'self'"
	if in != nil {
		if o := origin(in.LimeChatURL); o != "" {
			ancestors += " " + o
		}
	}
	if name == "dashboard" {
		ancestors = "'self' https:"
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
		"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors "+ancestors)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

func (f *Forms) render(w http.ResponseWriter, r *http.Request, status int, name string, data any, in *service.Integration) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		f.log().Error("render page", "template", name, "err", err)
		writeError(w, http.StatusInternalServerError, "could not render the page")
		return
	}
	pageHeaders(w, name, in)
	w.WriteHeader(status)
	_, _ = io.Copy(w, &buf)
}

func (f *Forms) renderError(w http.ResponseWriter, r *http.Request, status int, msg string, in *service.Integration) {
	f.render(w, r, status, "error", struct{ Message string }{msg}, in)
}

// Automation handles the LimeChat automation webhook: set it as
// Webhooks.Automation. Created, incomplete and ignored deliveries answer
// 200 with the outcome; a failure answers 502/500 with the reason (it is
// also recorded in inbound_events).
func (f *Forms) Automation(ctx context.Context, in *service.Integration, ev service.Event, raw []byte) (int, any) {
	res, err := f.Service.Automate(ctx, in, ev, raw)
	if err != nil {
		a := f.formError(in, err)
		body := a.body()
		body["event_id"] = res.EventID
		return a.status, body
	}
	return http.StatusOK, res
}
