package leadsquared

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	utc := func(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2018-03-06 06:55:46.000", utc(2018, 3, 6, 6, 55, 46, 0)},
		{"2018-03-06 06:55:46.123", utc(2018, 3, 6, 6, 55, 46, 123)},
		{"2019-04-22 13:00:09", utc(2019, 4, 22, 13, 0, 9, 0)},
		{"/Date(1751910591000+0000)/", time.UnixMilli(1751910591000).UTC()},
		{"/Date(1751910591000+0530)/", time.UnixMilli(1751910591000).UTC()},
		{"/Date(1751910591000)/", time.UnixMilli(1751910591000).UTC()},
		{"4/6/2023 3:23:35 PM", utc(2023, 4, 6, 15, 23, 35, 0)},
		{"4/6/2023 3:23:35 pm", utc(2023, 4, 6, 15, 23, 35, 0)},
		{"4/6/2023 3:23:35", utc(2023, 4, 6, 3, 23, 35, 0)},
		{"4/6/2023 15:23:35", utc(2023, 4, 6, 15, 23, 35, 0)},
		{"7/31/2026 5:33:50 AM", utc(2026, 7, 31, 5, 33, 50, 0)},
		{"12/31/2026 12:00:00 AM", utc(2026, 12, 31, 0, 0, 0, 0)},
		{"2026-07-31T05:33:50", utc(2026, 7, 31, 5, 33, 50, 0)},
		{"2026-07-31T05:33:50Z", utc(2026, 7, 31, 5, 33, 50, 0)},
		{"2026-07-31T11:03:50+05:30", utc(2026, 7, 31, 5, 33, 50, 0)},
		{"2026-07-31T05:33:50.250Z", utc(2026, 7, 31, 5, 33, 50, 250)},
		{"2026-07-31", utc(2026, 7, 31, 0, 0, 0, 0)},
		{" 2026-07-31 05:33:50 ", utc(2026, 7, 31, 5, 33, 50, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTime(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) = %v, want %v UTC", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01", "/Date(abc)/", "31/31/2026 1:00:00 PM"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) succeeded", bad)
		}
	}
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	ist := time.FixedZone("IST", 5*3600+1800)
	got := FormatTime(time.Date(2026, 7, 31, 11, 3, 50, 999, ist))
	if got != "2026-07-31 05:33:50" {
		t.Errorf("FormatTime = %q", got)
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2018-03-06 06:55:46.000", "2019-04-22 13:00:09", "/Date(1751910591000+0000)/",
		"4/6/2023 3:23:35 PM", "4/6/2023 3:23:35", "7/31/2026 5:33:50 AM", "2026-07-31T05:33:50Z", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) not UTC: %v", s, got)
		}
		// A formatted time parses back to the same second.
		if got.Year() >= 0 && got.Year() <= 9999 {
			back, err := ParseTime(FormatTime(got))
			if err != nil || !back.Equal(got.Truncate(time.Second)) {
				t.Fatalf("round trip of %q: %v, %v", s, back, err)
			}
		}
	})
}
