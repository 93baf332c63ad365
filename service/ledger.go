package service

import (
	"slices"
	"strings"
	"time"
)

// Written is the ledger of values the relay wrote to one attribute of one
// platform (links.written): it tells our echoes from people's changes, and
// whether our write may have overwritten a person's change made meanwhile.
type Written struct {
	Marks []WriteMark `json:"marks,omitempty"`
	// Known is the value the platform was last known to hold (reported by
	// it, or written by us). A snapshot (a reconcile read, a flat payload)
	// that still shows it says nothing changed on that side, whatever its
	// record-level modification time.
	Known string `json:"known,omitempty"`
	// Set is Known for a set-valued attribute (a ticket's labels), sorted.
	Set []string `json:"set,omitempty"`
	// HasSet tells an empty known set from none known.
	HasSet bool `json:"has_set,omitempty"`
}

// WriteMark is one write.
type WriteMark struct {
	Value string `json:"v"`
	// Sent is when the request left.
	Sent time.Time `json:"sent"`
	// Landed is when the write is known to have taken effect: the echo's
	// source time, or, on platforms that send no echo, when the answer came.
	// Zero while an echo is still expected.
	Landed time.Time `json:"landed,omitempty"`
	// NoEcho marks writes the platform never reports back (Lead.Update
	// without postUpdatedLead, a write of the value already there).
	NoEcho bool `json:"no_echo,omitempty"`
	// Prev is the value the platform held just before the write, when
	// known: its echo reports the same previous value, a person's change to
	// the same value usually does not.
	Prev string `json:"prev,omitempty"`
	// After and Before bound, in the platform's clock, when the write took
	// effect (read back around it): its echo carries a time in (Before,
	// After]. Zero when unknown.
	Before time.Time `json:"before,omitempty"`
	After  time.Time `json:"after,omitempty"`
}

// maxMarks bounds the ledger per attribute.
const maxMarks = 6

// echoWindow is how long after a write its echo is still expected, and how
// long a write may be suspected of overwriting a person's change.
const echoWindow = 10 * time.Minute

// Keys of Link.Written.
const (
	writtenAssignee = "limechat.assignee"
	writtenOwner    = "leadsquared.owner"
	// writtenLabels' Set is the ticket's labels as last read or written.
	writtenLabels = "limechat.labels"
)

// writtenField is the key of a LeadSquared field's known value.
func writtenField(name string) string { return "leadsquared.field:" + name }

// knownOf returns the value a platform was last known to hold for key,
// and whether one is known.
func (l *Link) knownOf(key string) (string, bool) {
	w, ok := l.Written[key]
	if !ok {
		return "", false
	}
	if key == writtenOwner || key == writtenAssignee {
		return w.Known, w.Known != ""
	}
	return w.Known, true
}

// knownSet returns the set a platform was last known to hold for key.
func (l *Link) knownSet(key string) ([]string, bool) {
	w := l.Written[key]
	return w.Set, w.HasSet
}

// echoSkew tolerates the platform stamping our write slightly before the
// moment we recorded sending it.
const echoSkew = 2 * time.Second

// ownEcho reports whether value at time at, reported by the platform behind
// key, is the echo of one of our writes, and consumes that write's mark.
func (r *result) ownEcho(key, value, prev string, at time.Time) bool {
	w := r.next.Written[key]
	// The marks array is shared with the input link: copy before marking.
	w.Marks = slices.Clone(w.Marks)
	for i := range w.Marks {
		m := &w.Marks[i]
		if m.NoEcho || !m.Landed.IsZero() || m.Value != value || (m.Prev != "" && prev != "" && m.Prev != prev) {
			continue
		}
		if !at.IsZero() && (at.Before(m.Sent.Add(-echoSkew)) || at.After(m.Sent.Add(echoWindow))) {
			continue
		}
		if !at.IsZero() && !m.After.IsZero() && (at.After(m.After) || !at.After(m.Before)) {
			continue // a change at another moment: a person's, not ours
		}
		m.Landed = at
		if at.IsZero() {
			m.Landed = m.Sent
		}
		r.next.Written[key] = w
		return true
	}
	return false
}

// setKnown records the value a platform is now known to hold.
func (r *result) setKnown(key, value string) {
	w := r.next.Written[key]
	w.Known = value
	r.next.Written[key] = w
}

// setKnownSet records the set a platform is now known to hold.
func (r *result) setKnownSet(key string, set []string) {
	w := r.next.Written[key]
	w.Set, w.HasSet = sortedCopy(set), true
	r.next.Written[key] = w
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// clockSkew is how far apart the platforms' clocks and ours may be. Our
// writes are timed by our clock, a person's change by the platform's: only
// a write that landed longer than this before the change surely came first.
const clockSkew = 30 * time.Second

// overwrote reports whether one of our writes of another value to the
// platform behind key may have taken effect after a person's change at
// time at: then the platform holds our value, not the person's, and the
// person's value must be written back. In doubt it says yes: writing the
// value the platform may already hold costs one call, while a missed
// overwrite leaves the two sides apart.
func (r *result) overwrote(key, value string, at time.Time) bool {
	for _, m := range r.next.Written[key].Marks {
		if m.Value == value {
			continue
		}
		switch {
		case at.IsZero():
			return true
		case !m.Landed.IsZero():
			if m.Landed.After(at.Add(-clockSkew)) {
				return true
			}
		case m.Sent.After(at.Add(-echoWindow)):
			return true // its echo has not come yet: it may land after
		}
	}
	return false
}

// labelEcho finds the label write of ours that a label change to current
// at time at reports back, and consumes its mark. Its Prev is the list we
// read before writing: what people changed between that read and our write
// (which our write undid, the labels API replacing the whole list) is the
// difference between Prev and the change's previous list.
func (r *result) labelEcho(current []string, at time.Time) (WriteMark, bool) {
	w := r.next.Written[writtenLabels]
	w.Marks = slices.Clone(w.Marks)
	value := joinSet(current)
	for i := range w.Marks {
		m := &w.Marks[i]
		if !m.Landed.IsZero() || m.Value != value {
			continue
		}
		if !at.IsZero() && (at.Before(m.Sent.Add(-clockSkew)) || at.After(m.Sent.Add(echoWindow))) {
			continue
		}
		m.Landed = at
		if at.IsZero() {
			m.Landed = m.Sent
		}
		r.next.Written[writtenLabels] = w
		return *m, true
	}
	return WriteMark{}, false
}

// joinSet renders a label set as one comparable string.
func joinSet(labels []string) string { return strings.Join(sortedCopy(labels), "\n") }

// splitSet is joinSet's inverse.
func splitSet(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
