package bench

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// sink is an in-process HTTP endpoint standing in for a platform: it takes
// one POST per action, {"key":K,"seq":S,…}, answers as LeadSquared does
// (after latency, when set), and checks that each key's actions arrive in
// order and each exactly once. Action i of the backlog is key i%keys, seq
// i/keys.
type sink struct {
	URL     string
	keys    int
	latency time.Duration
	srv     *http.Server

	distinct atomic.Int64 // actions received at least once
	inFlight atomic.Int64
	maxIn    atomic.Int64

	mu         sync.Mutex
	count      []int32 // by action index
	next       []int   // next seq expected, by key
	duplicates int
	outOfOrder int
	bad        int // bodies that were not an action of the backlog
}

func startSink(n, keys int, latency time.Duration) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{keys: keys, latency: latency, count: make([]int32, n), next: make([]int, keys)}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // ends with Close
	s.URL = "http://" + ln.Addr().String() + "/v2/LeadManagement.svc/Lead.Update"
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxIn.Load()
		if in <= m || s.maxIn.CompareAndSwap(m, in) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	var a struct{ Key, Seq int }
	if err := json.Unmarshal(body, &a); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	s.receive(a.Key, a.Seq)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"Status":"Success","Message":{"Id":"x"}}`))
}

// receive counts one arrival. It is counted when the platform has acted,
// just before the answer leaves, as a platform would.
func (s *sink) receive(key, seq int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := seq*s.keys + key
	if key < 0 || key >= s.keys || seq < 0 || i >= len(s.count) {
		s.bad++
		return
	}
	s.count[i]++
	if s.count[i] > 1 {
		s.duplicates++
		return
	}
	if seq != s.next[key] {
		s.outOfOrder++
	}
	s.next[key] = max(s.next[key], seq+1)
	s.distinct.Add(1)
}

// sinkCheck is what the sink saw.
type sinkCheck struct {
	Missing     int  `json:"missing"`
	Duplicates  int  `json:"duplicates"`
	OutOfOrder  int  `json:"out_of_order"`
	Bad         int  `json:"bad_bodies"`
	OK          bool `json:"order_held_each_once"`
	MaxInFlight int  `json:"max_in_flight"`
}

func (s *sink) check() sinkCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := sinkCheck{Duplicates: s.duplicates, OutOfOrder: s.outOfOrder, Bad: s.bad, MaxInFlight: int(s.maxIn.Load())}
	for _, n := range s.count {
		if n == 0 {
			c.Missing++
		}
	}
	c.OK = c.Missing == 0 && c.Duplicates == 0 && c.OutOfOrder == 0 && c.Bad == 0
	return c
}

func (s *sink) Close() error { return s.srv.Close() }
