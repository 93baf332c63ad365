package leadsquared

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// requestLayout is the one layout LeadSquared accepts in requests (UTC).
const requestLayout = "2006-01-02 15:04:05"

// responseLayouts are the zone-less layouts LeadSquared answers with, all UTC.
// Go's parser accepts a fractional second after the seconds even when the
// layout does not name one, so "2018-03-06 06:55:46.000" matches the first.
var responseLayouts = []string{
	"2006-01-02 15:04:05", // leads (.000 too), webhooks
	"2006-01-02T15:04:05", // ISO without zone
	"1/2/2006 3:04:05 PM", // activity ActivityFields, GetOpportunitiesById
	"1/2/2006 15:04:05",   // GetOpportunitiesById without AM/PM
	"1/2/2006 3:04 PM",    // minutes only
	"1/2/2006 15:04",      // minutes only, 24h
	"2006-01-02 15:04",    // minutes only
	"2006-01-02",          // date fields
	"1/2/2006",            // date fields, US order
	time.RFC3339Nano,      // ISO with zone
	"2006-01-02 15:04:05Z07:00",
}

// msDate matches the .NET JSON form in metadata: /Date(1751910591000+0000)/.
var msDate = regexp.MustCompile(`^/?Date\((-?\d{1,18})([+-]\d{4})?\)/?$`)

// ParseTime parses any date layout LeadSquared sends and returns it in UTC.
// LeadSquared's zone-less values are UTC; values with a zone are converted.
// The offset in /Date(ms+0000)/ is informational: the milliseconds are
// already UTC, as in every .NET JSON date.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("parse leadsquared time: empty")
	}
	if m := msDate.FindStringSubmatch(s); m != nil {
		ms, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse leadsquared time %q: %w", truncate(s, 40), err)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	upper := strings.ToUpper(s)
	for _, layout := range responseLayouts {
		if t, err := time.Parse(layout, upper); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse leadsquared time %q: unknown layout", truncate(s, 40))
}

// FormatTime formats t the way LeadSquared requests want dates: UTC
// "YYYY-MM-DD HH:MM:SS". A watermark in local time would match nothing.
func FormatTime(t time.Time) string {
	return t.UTC().Format(requestLayout)
}

// truncate shortens s to at most n bytes for error texts.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parseOrZero parses s, returning the zero time when it is empty or unreadable:
// a missing source timestamp must not reject a record.
func parseOrZero(s string) time.Time {
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}
