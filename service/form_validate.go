package service

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// ValidationError lists what is wrong with a submitted form, by schema name
// (or "_contact" for the ticket's contact); each message names the field
// and why. The HTTP API answers it with 422 {"errors": Fields}.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msgs := make([]string, len(keys))
	for i, k := range keys {
		msgs[i] = k + ": " + e.Fields[k]
	}
	return "invalid form: " + strings.Join(msgs, "; ")
}

// ContactField is the ValidationError key for problems with the ticket's
// contact rather than with a field.
const ContactField = "_contact"

// The strict date shape: LeadSquared's request layout, and what the agent
// page shows as the placeholder. time.Parse alone accepts "2026-1-5".
var (
	datePattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	// numberPattern is plain decimal: Go would also read 1e5 or 0x1p4.
	numberPattern = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)
	timePattern   = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	emailPattern  = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	phonePattern  = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{5,19}$`)
)

// ValidateField checks one value against its field and returns the
// problem, naming the field, or "" when the value is acceptable. Values
// are compared as given; callers trim them first.
func ValidateField(f FormField, v string) string {
	label := f.Label
	if label == "" {
		label = f.Schema
	}
	if v == "" {
		if f.Required {
			return label + " is required"
		}
		return ""
	}
	if f.MaxLength > 0 && utf8.RuneCountInString(v) > f.MaxLength {
		return fmt.Sprintf("%s must be at most %d characters (it has %d)", label, f.MaxLength, utf8.RuneCountInString(v))
	}
	switch f.Type {
	case "Select":
		// Custom dropdowns may come without options; LeadSquared then
		// takes any value. Otherwise a value outside the list would be
		// stored but could never be picked in its UI.
		if len(f.Options) > 0 && !slices.Contains(f.Options, v) {
			return fmt.Sprintf("%s must be one of %s (got %q)", label, strings.Join(f.Options, ", "), v)
		}
	case "Number":
		// Plain decimal only: Go would also read 1e5 or 0x1p4, LeadSquared would not.
		if !numberPattern.MatchString(v) {
			return fmt.Sprintf("%s must be a number like 1200 or 99.5 (got %q)", label, v)
		}
	case "Date":
		if !datePattern.MatchString(v) {
			return fmt.Sprintf("%s must be a date written YYYY-MM-DD, e.g. 2026-12-20 (got %q)", label, v)
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return fmt.Sprintf("%s is not a real calendar date: %s", label, v)
		}
	case "Time":
		if !timePattern.MatchString(v) {
			return fmt.Sprintf("%s must be a time written HH:MM, 24-hour (got %q)", label, v)
		}
	case "Email":
		if !emailPattern.MatchString(v) {
			return fmt.Sprintf("%s must be an e-mail address (got %q)", label, v)
		}
	case "Phone":
		if !phonePattern.MatchString(v) {
			return fmt.Sprintf("%s must be a phone number such as +91-9876543210 (got %q)", label, v)
		}
	case "Boolean":
		if v != "true" && v != "false" {
			return fmt.Sprintf("%s must be true or false (got %q)", label, v)
		}
	}
	return ""
}

// ValidateForm checks every field's value; values holds one entry per
// field (absent means empty). It returns nil when all are acceptable.
func ValidateForm(fields []FormField, values map[string]string) *ValidationError {
	errs := map[string]string{}
	for _, f := range fields {
		if msg := ValidateField(f, values[f.Schema]); msg != "" {
			errs[f.Schema] = msg
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: errs}
}

// mergeValues overlays submitted values on the pre-filled ones: a field
// absent from the submission keeps its pre-filled value, and "" clears it.
// A submitted name that is not a field of the form is an error (LeadSquared
// would reject the whole capture for it).
func mergeValues(form *Form, submitted map[string]string) (map[string]string, *ValidationError) {
	out := make(map[string]string, len(form.Fields))
	known := make(map[string]bool, len(form.Fields))
	for _, f := range form.Fields {
		known[f.Schema] = true
		out[f.Schema] = f.Value
	}
	errs := map[string]string{}
	for k, v := range submitted {
		switch {
		case known[k]:
			out[k] = strings.TrimSpace(v)
		case hiddenFields[k]:
			errs[k] = k + " is set by lsqbridge (the owner is the ticket's agent) and cannot be submitted"
		default:
			errs[k] = fmt.Sprintf("%s is not a field of opportunity type %d", k, form.OpportunityType)
		}
	}
	if len(errs) > 0 {
		return out, &ValidationError{Fields: errs}
	}
	return out, nil
}

// checkForm merges and validates a submission, and checks that the ticket's
// contact can identify a lead (LeadSquared matches on phone or e-mail).
// Every problem is reported at once.
func checkForm(form *Form, submitted map[string]string) (map[string]string, *ValidationError) {
	values, unknown := mergeValues(form, submitted)
	errs := map[string]string{}
	if unknown != nil {
		maps.Copy(errs, unknown.Fields)
	}
	if verr := ValidateForm(form.Fields, values); verr != nil {
		maps.Copy(errs, verr.Fields)
	}
	if form.Contact.Phone == "" && form.Contact.Email == "" {
		errs[ContactField] = "the ticket's contact has no phone number or e-mail, so no LeadSquared lead can be found or created: add one in LimeChat"
	}
	if len(errs) > 0 {
		return values, &ValidationError{Fields: errs}
	}
	return values, nil
}
