package service

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// This file knows the form's field types: what a value of each type looks
// like on the wire LeadSquared takes (docs/leadsquared.md), how a submitted
// value is checked and put in that form, and which options a dependent
// dropdown allows for its parent's value.

// Canonical field types beyond the plain ones (Text, Number, Email, Phone,
// Website, Date, Time, Select, Boolean).
const (
	// TypeMultiSelect holds several options, sent as "Pool;Spa".
	TypeMultiSelect = "MultiSelect"
	// TypeDateTime is an instant, sent in UTC as "2026-12-20 09:30:00".
	TypeDateTime = "DateTime"
	// TypeUnsupported is a field lsqbridge cannot fill (users, products,
	// files, custom field sets): shown only when mandatory, and refused.
	TypeUnsupported = "Unsupported"
)

// MultiSelectSeparator joins the options of a multi-select value.
const MultiSelectSeparator = ";"

// DateTimeLayout is LeadSquared's request layout for date-times, in UTC.
const DateTimeLayout = "2006-01-02 15:04:05"

var (
	// dateTimePattern is "YYYY-MM-DD HH:MM" with optional seconds.
	dateTimePattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$`)
	// dateTimeOffsetPattern is RFC 3339 with its zone, seconds optional.
	dateTimeOffsetPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$`)
)

// SplitMultiSelect returns the options of a multi-select value ("Pool; Spa"
// → Pool, Spa), trimmed, without empties or repeats.
func SplitMultiSelect(v string) []string {
	var out []string
	for _, p := range strings.Split(v, MultiSelectSeparator) {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// allowedOptions are the options a select may take given the form's
// values: a dependent dropdown's options for its parent's value (none while
// the parent is empty or has no options listed for it), else its options.
func allowedOptions(f FormField, values map[string]string) (opts []string, dependent bool) {
	if f.ParentField == "" || f.OptionsByParent == nil {
		return f.Options, false
	}
	return f.OptionsByParent[values[f.ParentField]], true
}

// checkValue checks one value of a field (values holds the form's other
// values, for a dependent dropdown's parent) and returns it as LeadSquared
// takes it, or a message naming the field and the problem. Values arrive
// trimmed.
func checkValue(f FormField, v string, values map[string]string) (string, string) {
	label := f.Label
	if label == "" {
		label = f.Schema
	}
	if f.Type == TypeMultiSelect {
		v = strings.Join(SplitMultiSelect(v), MultiSelectSeparator)
	}
	if v == "" {
		switch {
		case f.Type == TypeUnsupported && f.Required:
			return "", unsupportedMessage(label)
		case f.Required:
			return "", label + " is required"
		}
		return "", ""
	}
	if f.MaxLength > 0 && runeCount(v) > f.MaxLength {
		return "", fmt.Sprintf("%s must be at most %d characters (it has %d)", label, f.MaxLength, runeCount(v))
	}
	switch f.Type {
	case "Select":
		opts, dependent := allowedOptions(f, values)
		parent := values[f.ParentField]
		switch {
		case dependent && parent == "":
			return "", fmt.Sprintf("%s depends on %s: choose %s first", label, f.ParentField, f.ParentField)
		case dependent && len(opts) == 0:
			return "", fmt.Sprintf("%s has no options for %s %q; leave it empty", label, f.ParentField, parent)
		case dependent && !slices.Contains(opts, v):
			return "", fmt.Sprintf("%s must be one of %s for %s %s (got %q)", label, strings.Join(opts, ", "), f.ParentField, parent, v)
		case !dependent && len(opts) > 0 && !slices.Contains(opts, v):
			// Custom dropdowns may come without options; LeadSquared then
			// takes any value. Otherwise a value outside the list would be
			// stored but could never be picked in its UI.
			return "", fmt.Sprintf("%s must be one of %s (got %q)", label, strings.Join(opts, ", "), v)
		}
	case TypeMultiSelect:
		if len(f.Options) > 0 {
			for _, o := range SplitMultiSelect(v) {
				if !slices.Contains(f.Options, o) {
					return "", fmt.Sprintf("%s must be chosen from %s (got %q)", label, strings.Join(f.Options, ", "), o)
				}
			}
		}
	case "Number":
		// Plain decimal only: Go would also read 1e5 or 0x1p4, LeadSquared would not.
		if !numberPattern.MatchString(v) {
			return "", fmt.Sprintf("%s must be a number like 1200 or 99.5 (got %q)", label, v)
		}
	case "Date":
		if !datePattern.MatchString(v) {
			return "", fmt.Sprintf("%s must be a date written YYYY-MM-DD, e.g. 2026-12-20 (got %q)", label, v)
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "", fmt.Sprintf("%s is not a real calendar date: %s", label, v)
		}
	case TypeDateTime:
		t, msg := parseSubmittedDateTime(label, v)
		if msg != "" {
			return "", msg
		}
		v = t.UTC().Format(DateTimeLayout)
	case "Time":
		if !timePattern.MatchString(v) {
			return "", fmt.Sprintf("%s must be a time written HH:MM, 24-hour (got %q)", label, v)
		}
	case "Email":
		if !emailPattern.MatchString(v) {
			return "", fmt.Sprintf("%s must be an e-mail address (got %q)", label, v)
		}
	case "Phone":
		if !phonePattern.MatchString(v) {
			return "", fmt.Sprintf("%s must be a phone number such as +91-9876543210 (got %q)", label, v)
		}
	case "Boolean":
		if v != "true" && v != "false" {
			return "", fmt.Sprintf("%s must be true or false (got %q)", label, v)
		}
	case TypeUnsupported:
		return "", unsupportedMessage(label)
	}
	return v, ""
}

func unsupportedMessage(label string) string {
	return label + " is a kind of LeadSquared field lsqbridge cannot fill (a user, product, file or field set): " +
		"make it optional in LeadSquared, or create this opportunity there"
}

// parseSubmittedDateTime reads a submitted date-time: "YYYY-MM-DD HH:MM[:SS]"
// in UTC (LeadSquared's own layout), or RFC 3339 with its offset (what the
// agent page sends: the agent's local time).
func parseSubmittedDateTime(label, v string) (time.Time, string) {
	var t time.Time
	var err error
	switch {
	case dateTimePattern.MatchString(v):
		layout := "2006-01-02 15:04"
		if len(v) > len(layout) {
			layout = DateTimeLayout
		}
		t, err = time.ParseInLocation(layout, v, time.UTC)
	case dateTimeOffsetPattern.MatchString(v):
		t, err = time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04Z07:00", v)
		}
	default:
		return time.Time{}, fmt.Sprintf("%s must be a date and time written YYYY-MM-DD HH:MM in UTC, or with its offset "+
			"like 2026-12-20T15:00+05:30 (got %q)", label, v)
	}
	if err != nil {
		return time.Time{}, fmt.Sprintf("%s is not a real date and time: %s", label, v)
	}
	return t, ""
}

func runeCount(s string) int { return len([]rune(s)) }
