package ops

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress shows how far a long command has got, on a terminal only: one
// status line on stderr, rewritten in place, plus lines for finished
// steps. In a pipe or a file it writes nothing, so scripts and logs get
// only the command's result.
type Progress struct {
	mu   sync.Mutex
	w    io.Writer // nil when off
	last time.Time
	live bool // a status line is showing
	now  func() time.Time
}

// NewProgress returns a display writing to w, the terminal; with a nil w
// (not a terminal) it writes nothing.
func NewProgress(w io.Writer) *Progress {
	return &Progress{w: w, now: time.Now}
}

// Status replaces the status line, at most ten times a second.
func (p *Progress) Status(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return
	}
	now := p.now()
	if p.live && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.live = now, true
	fmt.Fprintf(p.w, "\r\033[K"+format, args...)
}

// Step prints a line that stays (a step begun or finished).
func (p *Progress) Step(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return
	}
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Done clears the status line.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil && p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}

// Write lets the display stand in as an io.Writer of whole lines.
func (p *Progress) Write(b []byte) (int, error) {
	p.Step("%s", strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}
