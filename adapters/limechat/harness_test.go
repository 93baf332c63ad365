package limechat

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// reply is one scripted answer of a test server.
type reply struct {
	status int
	header map[string]string
	body   string
	// hang blocks until the client goes away, answering nothing.
	hang bool
}

// recorded is one request a test server received.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// scripted is an httptest server answering from a script; the last reply
// repeats once the script runs out.
type scripted struct {
	mu      sync.Mutex
	replies []reply
	reqs    []recorded
	// arrived gets one value per request, so tests can act mid-request.
	arrived chan struct{}
	url     string
	// client has its own transport: parallel tests closing their servers
	// close http.DefaultTransport's idle connections under each other.
	client *http.Client
}

func newScripted(t *testing.T, replies ...reply) *scripted {
	t.Helper()
	s := &scripted{replies: replies, arrived: make(chan struct{}, 64)}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.client = srv.Client()
	return s
}

func (s *scripted) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	rep := s.replies[min(len(s.reqs), len(s.replies))-1]
	s.mu.Unlock()
	s.arrived <- struct{}{}
	if rep.hang {
		<-r.Context().Done()
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (s *scripted) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

// roundTripFunc lets a test fail requests before they are written.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
