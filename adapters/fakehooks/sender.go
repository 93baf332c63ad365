// Package fakehooks sends the webhooks of the platform fakes (lsqfake,
// limechatfake) the way real platforms do: asynchronously, at most once, and
// — on request — dropped, duplicated, delayed or out of order.
//
// Two modes. Automatic (the default, used by the sandbox): workers post
// deliveries in the background — one worker, in order, unless SetWorkers
// asks for more (Chatwoot sends from concurrent jobs, in no order); Wait
// blocks until they are idle, so tests never sleep. Manual (used by convergence tests): deliveries queue up
// until Flush posts them, shuffled when Reorder is set.
package fakehooks

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Delivery is one webhook POST.
type Delivery struct {
	URL    string
	Header http.Header
	Body   []byte
}

// Faults describes how deliveries misbehave. Rates are probabilities in [0,1].
type Faults struct {
	DropRate      float64
	DuplicateRate float64
	// Reorder shuffles a Flush batch (manual mode).
	Reorder bool
	// Delay is added before each automatic delivery.
	Delay time.Duration
	// Seed makes the fault choices repeatable; 0 means seed 1.
	Seed uint64
}

// Result records what happened to one delivery, for inspection by tests.
type Result struct {
	Delivery Delivery
	Status   int
	Err      error
	Dropped  bool
}

// Sender posts webhooks. The zero value is not usable; call New.
type Sender struct {
	client *http.Client

	mu      sync.Mutex
	cond    *sync.Cond
	manual  bool
	faults  Faults
	rng     *rand.Rand
	queue   []Delivery
	busy    int // deliveries being posted by the workers
	workers int
	results []Result
	closed  bool
}

// New returns a Sender in automatic mode using client (http.DefaultClient when nil).
func New(client *http.Client) *Sender {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Sender{client: client, rng: rand.New(rand.NewPCG(1, 1)), workers: 1}
	s.cond = sync.NewCond(&s.mu)
	go s.worker()
	return s
}

// SetWorkers makes n workers post deliveries concurrently (automatic mode),
// so their order is no longer kept, as with platforms that send webhooks
// from a pool of background jobs. It only ever adds workers.
func (s *Sender) SetWorkers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ; s.workers < n; s.workers++ {
		go s.worker()
	}
}

// SetManual switches between manual (queue until Flush) and automatic mode.
func (s *Sender) SetManual(manual bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manual = manual
	s.cond.Broadcast()
}

// SetFaults sets the fault profile and reseeds the random source.
func (s *Sender) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	seed := f.Seed
	if seed == 0 {
		seed = 1
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Send enqueues a delivery, applying the drop and duplicate faults now.
func (s *Sender) Send(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.faults.DropRate > 0 && s.rng.Float64() < s.faults.DropRate {
		s.results = append(s.results, Result{Delivery: d, Dropped: true})
		return
	}
	s.queue = append(s.queue, d)
	if s.faults.DuplicateRate > 0 && s.rng.Float64() < s.faults.DuplicateRate {
		s.queue = append(s.queue, d)
	}
	s.cond.Broadcast()
}

// Pending is the number of queued deliveries not yet posted.
func (s *Sender) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Outstanding is the number of deliveries queued or being posted: zero
// means every webhook this fake made so far has its answer.
func (s *Sender) Outstanding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) + s.busy
}

// Flush posts every queued delivery now, in the calling goroutine, shuffled
// when Reorder is set. Deliveries enqueued while flushing (echoes) are posted
// too, until the queue is empty or ctx ends.
func (s *Sender) Flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		if s.faults.Reorder {
			s.rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		}
		s.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		for _, d := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			s.post(ctx, d)
		}
	}
}

// TakeQueued removes and returns the queued deliveries without posting them,
// for tests that deliver by hand in a chosen order.
func (s *Sender) TakeQueued() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

// Wait blocks until the automatic worker has posted everything queued, or ctx ends.
func (s *Sender) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.mu.Lock()
		for (len(s.queue) > 0 && !s.manual) || s.busy > 0 {
			s.cond.Wait()
		}
		s.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
		return fmt.Errorf("wait for webhooks: %w", ctx.Err())
	}
}

// Results returns what happened to every delivery so far.
func (s *Sender) Results() []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Result(nil), s.results...)
}

// Close stops the worker; queued deliveries are discarded.
func (s *Sender) Close() {
	s.mu.Lock()
	s.closed = true
	s.queue = nil
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *Sender) worker() {
	for {
		s.mu.Lock()
		for !s.closed && (s.manual || len(s.queue) == 0) {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		d := s.queue[0]
		s.queue = s.queue[1:]
		s.busy++
		delay := s.faults.Delay
		s.mu.Unlock()

		if delay > 0 {
			time.Sleep(delay)
		}
		s.post(context.Background(), d)

		s.mu.Lock()
		s.busy--
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

func (s *Sender) post(ctx context.Context, d Delivery) {
	res := Result{Delivery: d}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err == nil {
		for k, vs := range d.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		var resp *http.Response
		resp, err = s.client.Do(req)
		if err == nil {
			res.Status = resp.StatusCode
			resp.Body.Close()
		}
	}
	res.Err = err
	s.mu.Lock()
	s.results = append(s.results, res)
	s.mu.Unlock()
}

// Requeue puts a delivery back in the queue as is, without applying faults
// again (tests that deliver part of a batch and delay the rest).
func (s *Sender) Requeue(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.queue = append(s.queue, d)
	s.cond.Broadcast()
}
