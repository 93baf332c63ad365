package limechatfake

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Faults makes the fake misbehave like a real platform on a bad day. They
// apply to every request (helpdesk and Flow-builder), in this order:
// Latency, RatePerMinute, FailNext, ErrorRate, Timeout; TimeoutAfterEffect
// applies after the request has been served.
type Faults struct {
	// Latency delays every answer (real time).
	Latency time.Duration
	// ErrorRate is the probability in [0,1] of a 503 with an HTML body, as a
	// load balancer in front of the helpdesk answers.
	ErrorRate float64
	// Timeout hangs before the request has any effect, until the request's
	// context ends or Close is called; the connection is then aborted.
	Timeout bool
	// TimeoutAfterEffect does the work (state change, webhooks) and then
	// hangs the same way: the caller cannot know it happened.
	TimeoutAfterEffect bool
	// FailNext answers the next FailNext requests with 500 {"error":…}.
	FailNext int
	// RatePerMinute, when positive, allows that many requests per minute of
	// the fake's clock (a fixed window, like rack-attack); the rest get 429
	// with rack-attack's plain-text "Retry later" body and a Retry-After of
	// the seconds left in the window.
	RatePerMinute int
	// Seed makes ErrorRate repeatable; 0 means seed 1.
	Seed uint64
}

// SetFaults replaces the fault profile, reseeds ErrorRate's random source
// and restarts the rate-limit window.
func (f *Fake) SetFaults(fl Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = fl
	seed := fl.Seed
	if seed == 0 {
		seed = 1
	}
	f.rng = rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	f.windowStart, f.windowCount = time.Time{}, 0
}

// applyFaults answers the request itself when a fault says so and reports
// whether the request should be served; it returns the faults in force.
func (f *Fake) applyFaults(w http.ResponseWriter, r *http.Request) (Faults, bool) {
	f.mu.Lock()
	fl := f.faults
	f.mu.Unlock()
	if fl.Latency > 0 {
		t := time.NewTimer(fl.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			panic(http.ErrAbortHandler)
		case <-f.closed:
			t.Stop()
			panic(http.ErrAbortHandler)
		}
	}

	f.mu.Lock()
	var limited bool
	var retryAfter int
	if fl.RatePerMinute > 0 {
		now := f.now()
		start := now.Truncate(time.Minute)
		if !start.Equal(f.windowStart) {
			f.windowStart, f.windowCount = start, 0
		}
		f.windowCount++
		if f.windowCount > fl.RatePerMinute {
			limited = true
			retryAfter = int((start.Add(time.Minute).Sub(now) + time.Second - 1) / time.Second)
			retryAfter = max(retryAfter, 1)
		}
	}
	failNext := false
	if !limited && f.faults.FailNext > 0 {
		f.faults.FailNext--
		failNext = true
	}
	unavailable := !limited && !failNext && fl.ErrorRate > 0 && f.rng.Float64() < fl.ErrorRate
	f.mu.Unlock()

	switch {
	case limited:
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("Retry later\n"))
		return fl, false
	case failNext:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "Internal Server Error"})
		return fl, false
	case unavailable:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html><body><h1>503 Service Unavailable</h1></body></html>\n"))
		return fl, false
	case fl.Timeout:
		f.hang(r)
	}
	return fl, true
}

// hang blocks until the request's context ends or the fake is closed, then
// aborts the connection without an answer.
func (f *Fake) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.closed:
	}
	panic(http.ErrAbortHandler)
}
