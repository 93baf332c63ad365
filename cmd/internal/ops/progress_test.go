package ops

import (
	"strings"
	"testing"
	"time"
)

// TestProgressWritesOnlyToATerminalAndRewritesItsLine: off, nothing is
// written; on, a status line is rewritten in place at most ten times a
// second, and a step clears it and stays.
func TestProgressWritesOnlyToATerminalAndRewritesItsLine(t *testing.T) {
	t.Parallel()
	off := NewProgress(nil)
	off.Status("x")
	off.Step("y")
	off.Done()
	if _, err := off.Write([]byte("z\n")); err != nil {
		t.Fatal(err)
	}

	var b strings.Builder
	p := NewProgress(&b)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	p.Status("1/3")
	p.Status("2/3") // within 100ms: dropped
	now = now.Add(200 * time.Millisecond)
	p.Status("3/3")
	p.Step("done %d", 3)
	p.Done()
	if want := "\r\033[K1/3\r\033[K3/3\r\033[Kdone 3\n"; b.String() != want {
		t.Errorf("progress wrote %q, want %q", b.String(), want)
	}
}
