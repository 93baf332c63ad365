package ops

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// table writes aligned columns: a header, then one line per row.
type table struct {
	tw   *tabwriter.Writer
	rows int
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = oneLine(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
	t.rows++
}

// flush ends the table; an empty one says so, so no output is never
// mistaken for a failure.
func (t *table) flush() error {
	if t.rows == 0 {
		fmt.Fprintln(t.tw, "(no rows)")
	}
	return t.tw.Flush()
}

// oneLine keeps a cell on one line: tabs and newlines would break the table.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to n runes, marking the cut.
func truncate(s string, n int) string {
	if n <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// stamp formats a time for tables: UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

// span formats a duration the way people read ages: 3.2s, 4m10s, 2d3h.
func span(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + span(-d)
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < 48*time.Hour:
		return d.Round(time.Second).String()
	default:
		days := d / (24 * time.Hour)
		return fmt.Sprintf("%dd%dh", days, (d-days*24*time.Hour)/time.Hour)
	}
}

// cell formats one value as pgx decodes it from a query over the audit
// views, so the CLI shows what psql shows.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return stamp(x)
	case pgtype.Interval:
		if !x.Valid {
			return ""
		}
		d := time.Duration(x.Microseconds)*time.Microsecond +
			time.Duration(x.Days)*24*time.Hour + time.Duration(x.Months)*30*24*time.Hour
		return span(d)
	case float64:
		return strconv.FormatFloat(x, 'f', 3, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', 3, 32)
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = cell(p)
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(x, ",")
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}
