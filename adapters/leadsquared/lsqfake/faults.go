package lsqfake

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Faults makes the API misbehave. Webhook faults (drop, duplicate, delay,
// reorder) are the Sender's: set them on Hooks().
type Faults struct {
	// Latency delays every answer (cut short when the request ends).
	Latency time.Duration
	// ErrorRate is the probability in [0,1] that a call answers HTTP 500 with
	// a non-JSON body, before any effect.
	ErrorRate float64
	// Timeout makes every call hang before its effect until the request's
	// context ends (the client times out) or the fake is closed.
	Timeout bool
	// TimeoutAfterEffect makes every call do its work, then hang without
	// answering: the ambiguous failure.
	TimeoutAfterEffect bool
	// FailNext makes the next N calls answer HTTP 500 before any effect.
	FailNext int
	// Seed makes ErrorRate repeatable; 0 means seed 1.
	Seed uint64
}

// SetFaults replaces the fault profile and reseeds the random source.
func (f *Fake) SetFaults(fl Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = fl
	f.failNext = fl.FailNext
	seed := fl.Seed
	if seed == 0 {
		seed = 1
	}
	f.rng = rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
}

// SetRateLimit sets the calls allowed per 5-second window (0 = unlimited) and
// the HTTP status of the rate-limit answer (429, 403 or 200; 0 means 429).
// The current window's count starts again.
func (f *Fake) SetRateLimit(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ratePer5s = n
	f.rateStatus = status
	f.windowCalls = 0
}

// fault is what one call suffers.
type fault struct {
	latency      time.Duration
	fail         bool
	timeout      bool
	timeoutAfter bool
}

// nextFault draws the faults for one call.
func (f *Fake) nextFault() fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := fault{latency: f.faults.Latency, timeout: f.faults.Timeout, timeoutAfter: f.faults.TimeoutAfterEffect}
	if f.failNext > 0 {
		f.failNext--
		fl.fail = true
	} else if f.faults.ErrorRate > 0 && f.rng.Float64() < f.faults.ErrorRate {
		fl.fail = true
	}
	return fl
}

// rateWindowNanos is LeadSquared's fixed rate window.
const rateWindowNanos = int64(5 * time.Second)

// rateLimited counts the call in the account's current 5-second window of
// the injected clock and answers the rate-limit error past the limit.
// Refused calls do not count.
func (f *Fake) rateLimited() (reply, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ratePer5s <= 0 {
		return reply{}, false
	}
	now := f.now().UnixNano()
	window := now / rateWindowNanos
	if now < 0 && now%rateWindowNanos != 0 {
		window--
	}
	if window != f.rateWindow {
		f.rateWindow = window
		f.windowCalls = 0
	}
	if f.windowCalls < f.ratePer5s {
		f.windowCalls++
		return reply{}, false
	}
	status := f.rateStatus
	if status == 0 {
		status = http.StatusTooManyRequests
	}
	return reply{status, errorBody("MXAPIRateLimitExceededException",
		fmt.Sprintf("API calls exceeded the limit of %d in 5 second(s)", f.ratePer5s))}, true
}
