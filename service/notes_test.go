package service

import "testing"

// TestNoteKeysAreOncePerLinkAndCause: a note's idempotency key depends on
// its link and cause only — two events naming the same unmatched owner
// enqueue it once — while other actions stay scoped to their event.
func TestNoteKeysAreOncePerLinkAndCause(t *testing.T) {
	t.Parallel()
	note := Action{Kind: ActPostNote, Key: "note:unmatched-owner:solo@acme.test", Once: "unmatched-owner:solo@acme.test"}
	assign := Action{Kind: ActAssign, Key: "assign"}
	cases := []struct {
		name   string
		a, b   string
		wantEq bool
	}{
		{"same note, two events", actionKey(11, 7, "", note), actionKey(12, 7, "", note), true},
		{"same note, a sharer's scope", actionKey(11, 7, "", note), actionKey(11, 7, "l7:", note), true},
		{"same cause, another link", actionKey(11, 7, "", note), actionKey(11, 8, "", note), false},
		{"another cause", actionKey(11, 7, "", note), actionKey(11, 7, "", Action{Once: "unmatched-owner:x@acme.test"}), false},
		{"an assignment, two events", actionKey(11, 7, "", assign), actionKey(12, 7, "", assign), false},
		{"an assignment of two links sharing a ticket", actionKey(11, 7, "", assign), actionKey(11, 8, "l8:", assign), false},
	}
	for _, c := range cases {
		if (c.a == c.b) != c.wantEq {
			t.Errorf("%s: %q vs %q, want equal %v", c.name, c.a, c.b, c.wantEq)
		}
	}
	if got := onceKey(7, "dead:42"); got != "note:l7:dead:42" {
		t.Errorf("onceKey = %q; the reconciler's sweep (queries/notes.sql) looks for note:l7:dead:42", got)
	}
}
