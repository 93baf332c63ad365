// Package openapitest holds lsqbridge's HTTP API to its OpenAPI document
// (docs/openapi.yaml) in tests: the document's operations, a middleware
// that records every exchange the router answers, and a check of each
// recorded exchange against the document with libopenapi-validator.
//
// Only tests import it, so the validator never reaches the service binary.
package openapitest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// DocPath is the document, relative to the module root.
const DocPath = "docs/openapi.yaml"

// Spec is the loaded document and its validator.
type Spec struct {
	model *v3.Document
	mu    sync.Mutex // the validator is shared by parallel tests
	v     validator.Validator
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// Load reads and checks docs/openapi.yaml once per test binary.
func Load() (*Spec, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

func load() (*Spec, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(root, DocPath))
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", DocPath, err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", DocPath, err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("validator for %s: %v", DocPath, errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		var msgs []string
		for _, e := range verrs {
			msgs = append(msgs, describe(e.Message, e.Reason, e.SchemaValidationErrors))
		}
		return nil, fmt.Errorf("%s is not a valid OpenAPI %s document:\n%s", DocPath, m.Model.Version, strings.Join(msgs, "\n"))
	}
	return &Spec{model: &m.Model, v: v}, nil
}

// moduleRoot is the nearest directory above the working directory with a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Version is the document's openapi field.
func (s *Spec) Version() string { return s.model.Version }

// Operations lists the document's operations as "METHOD /path/{param}".
func (s *Spec) Operations() []string {
	var out []string
	for path, item := range s.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

var routeParam = regexp.MustCompile(`\{([^}:]+):[^}]*\}`)

// Operation names a route and method as the document's paths do:
// "GET /v1/integrations/{integration}/tickets/{ticket}/opportunity-form"
// for the template ".../tickets/{ticket:[0-9]+}/...".
func Operation(method, template string) string {
	return strings.ToUpper(method) + " " + routeParam.ReplaceAllString(template, "{$1}")
}

// Exchange is one request and the answer lsqbridge gave it.
type Exchange struct {
	Method  string
	URL     string // path and query, as received
	Header  http.Header
	Body    []byte
	Status  int
	RespHdr http.Header
	Resp    []byte
	// Route is the router's template for the request ("" when unrouted).
	Route string
}

// Operation is the exchange's route and method, "" when no route matched.
func (x Exchange) Operation() string {
	if x.Route == "" {
		return ""
	}
	return Operation(x.Method, x.Route)
}

func (x Exchange) String() string {
	return fmt.Sprintf("%s %s → %d", x.Method, redact(x.URL), x.Status)
}

// redact hides credentials in query strings of reported URLs.
func redact(u string) string {
	path, query, ok := strings.Cut(u, "?")
	if !ok {
		return u
	}
	var parts []string
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if k == "token" || k == "sig" {
			kv = k + "=…"
		}
		parts = append(parts, kv)
	}
	return path + "?" + strings.Join(parts, "&")
}

// Check validates one exchange against the document and returns its
// problems. The answer is always checked (status, content type, body
// schema, headers). The request is checked only when it was accepted: a
// request the API refused may well break the document, as tests of
// refusals mean it to. Refused is a status outside 2xx, or LeadSquared's
// webhook refusal, HTTP 200 with {"Status":"Error"} (LeadSquared disables
// a webhook that keeps getting non-2xx answers).
func (s *Spec) Check(x Exchange) []string {
	req, err := http.NewRequest(x.Method, "http://lsqbridge.test"+x.URL, bytes.NewReader(x.Body))
	if err != nil {
		return []string{err.Error()}
	}
	req.Header = x.Header.Clone()
	resp := &http.Response{StatusCode: x.Status, Header: x.RespHdr.Clone(), Body: io.NopCloser(bytes.NewReader(x.Resp)), Request: req}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if ok, errs := s.v.ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			out = append(out, "answer: "+describe(e.Message, e.Reason, e.SchemaValidationErrors))
		}
	}
	if x.Status >= 200 && x.Status < 300 && !leadSquaredRefusal(x.Resp) {
		req.Body = io.NopCloser(bytes.NewReader(x.Body))
		if ok, errs := s.v.ValidateHttpRequestSync(req); !ok {
			for _, e := range errs {
				out = append(out, "request: "+describe(e.Message, e.Reason, e.SchemaValidationErrors))
			}
		}
	}
	return out
}

// leadSquaredRefusal reports whether an answer is {"Status":"Error",…}.
func leadSquaredRefusal(body []byte) bool {
	var a struct{ Status string }
	return json.Unmarshal(body, &a) == nil && a.Status == "Error"
}

func describe(msg, reason string, fails []*verrors.SchemaValidationFailure) string {
	s := msg
	if reason != "" && reason != msg {
		s += " (" + reason + ")"
	}
	for _, f := range fails {
		s += fmt.Sprintf("; at %s: %s", cmp.Or(f.FieldPath, "$"), f.Reason)
	}
	return s
}

// Recorder keeps every exchange a handler answers.
type Recorder struct {
	mu        sync.Mutex
	exchanges []Exchange
}

// maxRecordedBody bounds what is kept of one body; larger requests (tests
// of the size cap) are still passed on whole.
const maxRecordedBody = 4 << 20

// Wrap returns h recording each exchange. When h is a *mux.Router, each
// exchange notes the route it matched; requests matching no route are
// recorded with Route "".
func (rec *Recorder) Wrap(h http.Handler) http.Handler {
	router, _ := h.(*mux.Router)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
		if err != nil {
			http.Error(w, "openapitest: read request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		x := Exchange{Method: r.Method, URL: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body}
		if router != nil {
			var m mux.RouteMatch
			if router.Match(r, &m) && m.MatchErr == nil && m.Route != nil {
				x.Route, _ = m.Route.GetPathTemplate()
			}
		}
		cw := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		x.Status = cw.status
		if x.Status == 0 {
			x.Status = http.StatusOK
		}
		x.RespHdr = cw.header
		if x.RespHdr == nil {
			x.RespHdr = w.Header().Clone()
		}
		if r.Method != http.MethodHead { // a HEAD answer has no body on the wire
			x.Resp = cw.body.Bytes()
		}
		rec.mu.Lock()
		rec.exchanges = append(rec.exchanges, x)
		rec.mu.Unlock()
	})
}

// Exchanges returns what was recorded so far.
func (rec *Recorder) Exchanges() []Exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.exchanges)
}

// captureWriter copies the status, headers and body a handler writes.
type captureWriter struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
		c.header = c.ResponseWriter.Header().Clone()
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.body.Len() < maxRecordedBody {
		c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (c *captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
