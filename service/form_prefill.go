package service

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // form.timezone must load on hosts without zoneinfo
)

// Pre-filled values come from LimeChat attributes and contacts written by
// people, bots and other systems: "20/12/2026", "2026-12-19T18:30:00.000Z",
// LeadSquared's "2026-12-20 00:00:00", ["Pool","Spa"]. The normalizer puts
// each in the form its field's type takes (form_values.go) when it can be
// read without guessing; a value it cannot read is left as it came, so the
// form shows it and validation names it.

// prefillNormalizer reads pre-filled values with the integration's date
// order, time zone and default country code.
type prefillNormalizer struct {
	monthFirst  bool
	loc         *time.Location
	countryCode string
}

func newPrefillNormalizer(r *Rules) prefillNormalizer {
	n := prefillNormalizer{monthFirst: r.Form.DateOrder == DateOrderMonthFirst, countryCode: r.Phone.DefaultCountryCode}
	loc, err := time.LoadLocation(cmp.Or(r.Form.Timezone, DefaultFormTimezone))
	if err != nil {
		loc = time.UTC // Validate refuses unknown zones; a stored one is loadable
	}
	n.loc = loc
	return n
}

// value renders a pre-filled source value for a field of type typ.
func (n prefillNormalizer) value(typ string, raw any) string {
	if typ == TypeMultiSelect {
		if list, ok := raw.([]any); ok {
			var opts []string
			for _, e := range list {
				if s := attrString(e); s != "" && !slices.Contains(opts, s) {
					opts = append(opts, s)
				}
			}
			return strings.Join(opts, MultiSelectSeparator)
		}
	}
	s := attrString(raw)
	if s == "" {
		return ""
	}
	switch typ {
	case "Date":
		if d, ok := n.date(s); ok {
			return d
		}
	case TypeDateTime:
		if t, ok := n.dateTime(s); ok {
			return t.UTC().Format(DateTimeLayout)
		}
	case TypeMultiSelect:
		sep := MultiSelectSeparator
		if !strings.Contains(s, sep) {
			sep = "," // "Pool, Spa" from a text attribute
		}
		var opts []string
		for _, p := range strings.Split(s, sep) {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(opts, p) {
				opts = append(opts, p)
			}
		}
		return strings.Join(opts, MultiSelectSeparator)
	case "Time":
		if t, ok := parseClock(s); ok {
			return t
		}
	case "Boolean":
		switch strings.ToLower(s) {
		case "true", "1", "yes", "y":
			return "true"
		case "false", "0", "no", "n":
			return "false"
		}
	case "Phone":
		if p := LeadSquaredPhone(s, n.countryCode); p != "" {
			return p
		}
	}
	return s
}

var (
	// isoDatePrefix is a year-first date, any separator, maybe followed by a time.
	isoDatePrefix = regexp.MustCompile(`^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?:[ T](.*))?$`)
	// yearLastDate is d/m/yyyy or m/d/yyyy with / - or ., maybe with a time.
	yearLastDate = regexp.MustCompile(`^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})(?:[ T,]+(.*))?$`)
	// dotNetDate is LeadSquared metadata's "/Date(1751910591000+0000)/".
	dotNetDate = regexp.MustCompile(`^/Date\((-?[0-9]+)([+-][0-9]{4})?\)/$`)
	// clockPattern is H:MM or HH:MM, seconds optional.
	clockPattern = regexp.MustCompile(`^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?$`)
)

// date reads a calendar date as YYYY-MM-DD. An instant (a zone, or
// LeadSquared's UTC layout with a time other than midnight) counts on the
// integration's time zone.
func (n prefillNormalizer) date(s string) (string, bool) {
	if t, ok := n.instant(s); ok {
		return t.In(n.loc).Format(time.DateOnly), true
	}
	y, m, d, rest, ok := n.calendar(s)
	if !ok {
		return "", false
	}
	if rest != "" {
		if _, ok := parseClockSeconds(rest); !ok {
			return "", false
		}
	}
	return ymd(y, m, d)
}

// dateTime reads an instant: with a zone as given; LeadSquared's year-first
// "YYYY-MM-DD HH:MM[:SS]" in UTC; a day- or month-first date-time, or a bare
// date (at midnight), in the integration's time zone.
func (n prefillNormalizer) dateTime(s string) (time.Time, bool) {
	if t, ok := n.instant(s); ok {
		return t, true
	}
	if m := isoDatePrefix.FindStringSubmatch(s); m != nil && m[4] != "" {
		clock, ok := parseClockSeconds(m[4])
		if !ok {
			return time.Time{}, false
		}
		day, ok := ymd(m[1], m[2], m[3])
		if !ok {
			return time.Time{}, false
		}
		t, err := time.ParseInLocation(DateTimeLayout, day+" "+clock, time.UTC)
		return t, err == nil
	}
	y, mo, d, rest, ok := n.calendar(s)
	if !ok {
		return time.Time{}, false
	}
	day, ok := ymd(y, mo, d)
	if !ok {
		return time.Time{}, false
	}
	clock := "00:00:00"
	if rest != "" {
		if clock, ok = parseClockSeconds(rest); !ok {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation(DateTimeLayout, day+" "+clock, n.loc)
	return t, err == nil
}

// instant reads values that name an instant: RFC 3339 with its zone, .NET
// "/Date(ms)/", and LeadSquared's "YYYY-MM-DD HH:MM:SS[.fff]" (UTC) when its
// time is not midnight (a date field reads back as "… 00:00:00").
func (n prefillNormalizer) instant(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if m := dotNetDate.FindStringSubmatch(s); m != nil {
		ms, err := strconv.ParseInt(m[1], 10, 64)
		if err == nil {
			return time.UnixMilli(ms).UTC(), true
		}
	}
	for _, layout := range []string{"2006-01-02 15:04:05.000", DateTimeLayout} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil && !isMidnight(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

// calendar splits a written date into year, month, day and whatever follows
// (a time): year-first, or year-last in the integration's date order.
func (n prefillNormalizer) calendar(s string) (y, m, d, rest string, ok bool) {
	if p := isoDatePrefix.FindStringSubmatch(s); p != nil {
		return p[1], p[2], p[3], strings.TrimSpace(p[4]), true
	}
	if p := yearLastDate.FindStringSubmatch(s); p != nil {
		if n.monthFirst {
			return p[3], p[1], p[2], strings.TrimSpace(p[4]), true
		}
		return p[3], p[2], p[1], strings.TrimSpace(p[4]), true
	}
	return "", "", "", "", false
}

// ymd formats a date, false when it is not a real calendar day.
func ymd(y, m, d string) (string, bool) {
	mi, _ := strconv.Atoi(m)
	di, _ := strconv.Atoi(d)
	s := y + "-" + pad2(mi) + "-" + pad2(di)
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", false
	}
	return s, true
}

// parseClock reads "9:30", "09:30:00" or "09:30:00.000" as "09:30"; a
// non-zero seconds part is not dropped silently (false).
func parseClock(s string) (string, bool) {
	c, ok := parseClockSeconds(s)
	if !ok || !strings.HasSuffix(c, ":00") {
		return "", false
	}
	return strings.TrimSuffix(c, ":00"), true
}

// parseClockSeconds reads a time of day as "HH:MM:SS".
func parseClockSeconds(s string) (string, bool) {
	m := clockPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, _ := strconv.Atoi(m[3])
	if h > 23 || mi > 59 || sec > 59 {
		return "", false
	}
	return pad2(h) + ":" + pad2(mi) + ":" + pad2(sec), true
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
