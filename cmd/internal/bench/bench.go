// Package bench is `lsqbridge bench`: measurements of this machine running
// lsqbridge, each printing a table (or JSON) on stdout.
//
//	relay   the outbox relay draining a backlog into an HTTP sink (the same
//	        work as the River anchor), or, paced, into a rate-limited
//	        LeadSquared fake
//	ingest  webhooks of both platforms at several concurrency levels, next to
//	        the same writes as bare transactions (the ceiling)
//	e2e     webhook sent → platform call done, relay running, at a rate or
//	        stepping the rate to the highest whose p99 stays within a bound
//
// Every report carries the process's peak RSS. The numbers and how to read
// them are in docs/performance.md.
package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Progress shows how far a bench has got. The command passes a display that
// writes only when stderr is a terminal; nil shows nothing.
type Progress interface {
	// Status replaces the status line (rate-limited by the display).
	Status(format string, args ...any)
	// Step prints a line that stays.
	Step(format string, args ...any)
}

type noProgress struct{}

func (noProgress) Status(string, ...any) {}
func (noProgress) Step(string, ...any)   {}

func progressOr(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}

// Output is where a report goes.
type Output struct {
	W    io.Writer
	JSON bool
}

// table is a report's rows, printed aligned or as JSON.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// emit writes report as JSON, or as its table and summary lines.
func (o Output) emit(report any, t *table, lines ...string) error {
	if o.JSON {
		enc := json.NewEncoder(o.W)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	if t != nil {
		if err := t.print(o.W); err != nil {
			return err
		}
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(o.W, l); err != nil {
			return err
		}
	}
	return nil
}

// PeakRSSMB is this process's peak resident set (VmHWM) in MB, 0 where
// /proc is not there.
func PeakRSSMB() float64 { return procStatusMB("/proc/self/status", "VmHWM:") }

// procStatusMB reads one kB field of a /proc/PID/status file, in MB.
func procStatusMB(path, field string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

// Latency is a sample's percentiles, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func latencyOf(xs []time.Duration) Latency {
	if len(xs) == 0 {
		return Latency{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := min(len(s)-1, int(q*float64(len(s))))
		return float64(s[i].Microseconds()) / 1000
	}
	return Latency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: float64(s[len(s)-1].Microseconds()) / 1000}
}

func ms(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func mb(v float64) string { return fmt.Sprintf("%.0f MB", v) }
