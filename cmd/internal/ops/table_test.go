package ops

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestCellFormatsValuesLikePsqlWouldRead(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 30, 15, 0, time.FixedZone("IST", 19800))
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"x", "x"},
		{at, "2026-03-01 04:00:15Z"},
		{pgtype.Interval{Microseconds: 1_500_000, Valid: true}, "1.5s"},
		{pgtype.Interval{Microseconds: 90 * 1_000_000, Valid: true}, "1m30s"},
		{pgtype.Interval{Days: 3, Microseconds: 3_600_000_000, Valid: true}, "3d1h"},
		{pgtype.Interval{}, ""},
		{0.0123, "0.012"},
		{[]any{"a", "b"}, "a,b"},
		{map[string]any{"k": "v"}, `{"k":"v"}`},
		{int64(42), "42"},
		{true, "true"},
	}
	for _, tt := range tests {
		if got := cell(tt.in); got != tt.want {
			t.Errorf("cell(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := truncate("abcdef", 4); got != "abc…" {
		t.Errorf("truncate = %q", got)
	}
	if got := oneLine("a\tb\nc"); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}
