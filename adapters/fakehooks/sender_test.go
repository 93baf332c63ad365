package fakehooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Outstanding counts what is queued or being posted, so a script waiting
// for a fake to have sent everything does not stop while a webhook is on
// its way.
func TestOutstandingCountsQueuedAndInFlightDeliveries(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer srv.Close()
	s := New(srv.Client())
	defer s.Close()
	s.SetManual(true)
	s.Send(Delivery{URL: srv.URL})
	s.Send(Delivery{URL: srv.URL})
	if n := s.Outstanding(); n != 2 {
		t.Fatalf("two queued deliveries: outstanding %d, want 2", n)
	}
	s.SetManual(false)
	<-arrived // the first is being posted, the second still queued
	if n := s.Outstanding(); n != 2 {
		t.Errorf("one in flight and one queued: outstanding %d, want 2", n)
	}
	close(release)
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Outstanding(); n != 0 {
		t.Errorf("after both were answered: outstanding %d, want 0", n)
	}
	if n := len(s.Results()); n != 2 {
		t.Errorf("%d results, want 2", n)
	}
}
