package service

import (
	"testing"
	"time"
)

// A person assigns the ticket to the same agent our write is about to set,
// just before our call lands. Their change must not use up the mark of our
// write: our own echo, coming later, would then pass for a person's change
// and undo whatever people changed meanwhile.
func TestEchoOfOurWriteIsKnownAfterAPersonMadeTheSameChange(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	sent := t0.Add(2 * time.Second)
	r := &result{next: &Link{Written: map[string]Written{}}}
	r.next.Written[writtenAssignee] = Written{Known: "ravi@acme.test", Marks: []WriteMark{{Value: "meera@acme.test", Prev: "2", Sent: sent}}}

	// The person's change (ravi → meera) at t0+1s, reported before our
	// call is recorded: it matches the pending mark by value and previous
	// value, so it is taken as our echo (harmless: same value).
	if !r.ownEcho(writtenAssignee, "meera@acme.test", "2", t0.Add(time.Second)) {
		t.Fatal("a same-value change before the write was recorded should match the pending mark")
	}
	// Our call's read-back says it took effect at t0+3s.
	landed := t0.Add(3 * time.Second)
	w := r.next.Written[writtenAssignee].recorded(WriteMark{Value: "meera@acme.test", Prev: "2", Sent: sent, Before: t0.Add(2500 * time.Millisecond), After: landed})
	if n := len(w.Marks); n != 1 {
		t.Fatalf("the write is recorded as %d marks, want its one mark completed", n)
	}
	if !w.Marks[0].Landed.IsZero() {
		t.Fatalf("the mark stays landed at %v, a person's change; want it waiting for our echo at %v", w.Marks[0].Landed, landed)
	}
	r.next.Written[writtenAssignee] = w

	// A person's change to meera at yet another time is theirs.
	if r.ownEcho(writtenAssignee, "meera@acme.test", "1", t0.Add(2800*time.Millisecond)) {
		t.Error("a change at another time than the read-back's passed for our echo")
	}
	// Our echo, at the read-back's time, is ours.
	if !r.ownEcho(writtenAssignee, "meera@acme.test", "2", landed) {
		t.Error("our echo, at the read-back's time, passed for a person's change")
	}
	if got := r.next.Written[writtenAssignee].Marks[0].Landed; !got.Equal(landed) {
		t.Errorf("the mark landed at %v, want %v", got, landed)
	}
}

// The echo of our write that comes before the write is recorded keeps the
// mark landed: recording the write must not make us wait for it again.
func TestEchoBeforeTheRecordKeepsTheMarkLanded(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	sent, landed := t0, t0.Add(300*time.Millisecond)
	w := Written{Marks: []WriteMark{{Value: "asha@acme.test", Prev: "3", Sent: sent, Landed: landed}}}
	w = w.recorded(WriteMark{Value: "asha@acme.test", Prev: "3", Sent: sent, Before: t0, After: landed})
	if got := w.Marks[0].Landed; !got.Equal(landed) {
		t.Errorf("the mark's landing is %v after the record, want %v (its echo came first)", got, landed)
	}
	if w.Known != "asha@acme.test" {
		t.Errorf("known value %q, want the written one", w.Known)
	}
}
