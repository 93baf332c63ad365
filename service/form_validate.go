package service

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
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
// are compared as given; callers trim them first. A dependent dropdown is
// checked against its options for an empty parent: use ValidateForm.
func ValidateField(f FormField, v string) string {
	_, msg := checkValue(f, v, nil)
	return msg
}

// ValidateForm checks every field's value; values holds one entry per
// field (absent means empty) and is rewritten with each value as
// LeadSquared takes it (a multi-select joined with ";", a date-time in
// UTC). It returns nil when all are acceptable.
func ValidateForm(fields []FormField, values map[string]string) *ValidationError {
	errs := map[string]string{}
	parents := maps.Clone(values)
	for _, f := range fields {
		v, msg := checkValue(f, values[f.Schema], parents)
		if msg != "" {
			errs[f.Schema] = msg
			continue
		}
		if _, ok := values[f.Schema]; ok || v != "" {
			values[f.Schema] = v
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
//
// lists are values submitted as lists (a JSON array): only a multi-select
// takes one; its options may not contain the separator.
func mergeValues(form *Form, submitted map[string]string, lists map[string][]string) (map[string]string, *ValidationError) {
	out := make(map[string]string, len(form.Fields))
	known := make(map[string]FormField, len(form.Fields))
	for _, f := range form.Fields {
		known[f.Schema] = f
		out[f.Schema] = f.Value
	}
	errs := map[string]string{}
	unknown := func(k string) {
		if hiddenFields[k] {
			errs[k] = k + " is set by lsqbridge (the owner is the ticket's agent) and cannot be submitted"
			return
		}
		errs[k] = fmt.Sprintf("%s is not a field of opportunity type %d", k, form.OpportunityType)
	}
	for k, v := range submitted {
		if _, ok := known[k]; !ok {
			unknown(k)
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	for k, list := range lists {
		f, ok := known[k]
		switch {
		case !ok:
			unknown(k)
		case f.Type != TypeMultiSelect:
			errs[k] = fmt.Sprintf("%s takes one value, not a list", cmp.Or(f.Label, k))
		default:
			var opts []string
			for _, o := range list {
				if strings.Contains(o, MultiSelectSeparator) {
					errs[k] = fmt.Sprintf("%s: an option cannot contain %q (got %q)", cmp.Or(f.Label, k), MultiSelectSeparator, o)
				}
				opts = append(opts, strings.TrimSpace(o))
			}
			out[k] = strings.Join(opts, MultiSelectSeparator)
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
func checkForm(form *Form, submitted map[string]string, lists map[string][]string) (map[string]string, *ValidationError) {
	values, unknown := mergeValues(form, submitted, lists)
	errs := map[string]string{}
	if unknown != nil {
		maps.Copy(errs, unknown.Fields)
	}
	if verr := ValidateForm(form.Fields, values); verr != nil {
		maps.Copy(errs, verr.Fields)
	}
	switch {
	case form.Contact.Email != "":
	case form.phoneProblem != "":
		errs[ContactField] = "the ticket's contact has no e-mail and its phone number cannot be used (" + form.phoneProblem +
			"), so no LeadSquared lead can be found or created: fix it in LimeChat"
	case form.Contact.Phone == "":
		errs[ContactField] = "the ticket's contact has no phone number or e-mail, so no LeadSquared lead can be found or created: add one in LimeChat"
	}
	if len(errs) > 0 {
		return values, &ValidationError{Fields: errs}
	}
	return values, nil
}
