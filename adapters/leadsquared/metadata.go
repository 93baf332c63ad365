package leadsquared

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// dataTypes maps LeadSquared's data type names to the canonical names of
// service.FieldMeta. Lead metadata uses Text, Number, Email, Phone, Website,
// Date, Time, Select, Boolean (its RenderTypeTextValue refines them: a Date
// rendered "DateTime" holds a time too); opportunity and activity metadata
// say String, Number, DateTime, Dropdown, SearchableDropdown, ActiveUsers…
// (docs/leadsquared.md lists the sources). Unknown types read as Text.
var dataTypes = map[string]string{
	"text": "Text", "string": "Text", "largetext": "Text", "textarea": "Text", "multilinetext": "Text",
	"number": "Number", "decimal": "Number", "integer": "Number", "int": "Number", "float": "Number",
	"double": "Number", "currency": "Number",
	"email": "Email", "emailaddress": "Email",
	"phone": "Phone", "phonenumber": "Phone",
	"website": "Website", "url": "Website",
	"date":     "Date",
	"datetime": "DateTime",
	"time":     "Time",
	"select":   "Select", "dropdown": "Select", "selectlist": "Select",
	"radio": "Select", "radiobutton": "Select", "searchabledropdown": "Select", "dropdownwithothers": "Select",
	"multiselect": "MultiSelect", "multiselectdropdown": "MultiSelect", "multiselectlist": "MultiSelect",
	"boolean": "Boolean", "bool": "Boolean", "bit": "Boolean", "checkbox": "Boolean",
	// Types whose values are references or uploads, which a form cannot fill
	// with text: user pickers (a GUID), products, files, custom field sets.
	"activeusers": "Unsupported", "users": "Unsupported", "user": "Unsupported", "product": "Unsupported",
	"file": "Unsupported", "image": "Unsupported", "customobject": "Unsupported", "cfs": "Unsupported",
	"geolocation": "Unsupported", "signature": "Unsupported",
}

// canonicalDataType maps a LeadSquared data type to service.FieldMeta's names.
func canonicalDataType(t string) string {
	if c, ok := dataTypes[strings.ToLower(strings.TrimSpace(t))]; ok {
		return c
	}
	return "Text"
}

// fieldMeta normalizes one metadata item; optionsKey is "Options" (leads) or
// "OptionSet" (opportunities, where it is a JSON string).
func fieldMeta(item map[string]any, optionsKey string) service.FieldMeta {
	m := service.FieldMeta{
		SchemaName:  str(item["SchemaName"]),
		DisplayName: str(item["DisplayName"]),
		DataType:    canonicalDataType(str(item["DataType"])),
		Required:    truthy(item["IsMandatory"]),
		ReadOnly:    truthy(item["IsReadOnly"]) || truthy(item["ReadOnly"]),
		Options:     options(item[optionsKey]),
		ParentField: strings.TrimSpace(str(item["ParentField"])),
	}
	if m.DisplayName == "" {
		m.DisplayName = m.SchemaName
	}
	for _, k := range []string{"MaxLength", "MaxFieldLength"} {
		if n, err := strconv.Atoi(strings.TrimSpace(str(item[k]))); err == nil && n > 0 {
			m.MaxLength = n
			break
		}
	}
	// Lead metadata: the render type says what a Date or Select really holds.
	switch strings.ToLower(strings.TrimSpace(str(item["RenderTypeTextValue"]))) {
	case "datetime":
		if m.DataType == "Date" {
			m.DataType = "DateTime"
		}
	case "multiselect", "multiselectdropdown", "checkboxlist":
		m.DataType = "MultiSelect"
	}
	// Opportunity and activity metadata flag a multi-select dropdown.
	if truthy(item["IsMultiSelectDropdown"]) && (m.DataType == "Select" || m.DataType == "Text") {
		m.DataType = "MultiSelect"
	}
	if len(m.Options) > 0 && m.DataType == "Text" {
		m.DataType = "Select"
	}
	if m.ParentField != "" {
		var parents []string
		m.OptionsByParent, parents = dependentOptions(item["DependentOptionSet"], item[optionsKey])
		for _, p := range parents {
			for _, o := range m.OptionsByParent[p] {
				if !slices.Contains(m.Options, o) {
					m.Options = append(m.Options, o)
				}
			}
		}
		if m.DataType == "Text" {
			m.DataType = "Select"
		}
	}
	return m
}

// dependentOptions reads the options of a dependent dropdown per parent
// value. No archived page shows a filled DependentOptionSet, so every shape
// seen in LeadSquared's dependent-dropdown APIs is accepted: a JSON string
// or array of {"Parent"|"ParentValue"|"ParentFieldValue", "Options"|"Values"}
// (as the dependent-field push APIs take them), an object {parent: [options]},
// or options that carry their own parent ({"Value", "Parent"}) in the
// OptionSet. Nil when neither holds a mapping; parents lists the parent
// values in the order they came.
func dependentOptions(dependent, optionSet any) (byParent map[string][]string, parents []string) {
	out := map[string][]string{}
	add := func(parent string, opts []string) {
		if parent = strings.TrimSpace(parent); parent == "" {
			return
		}
		if _, seen := out[parent]; !seen {
			parents = append(parents, parent)
		}
		for _, o := range opts {
			if !slices.Contains(out[parent], o) {
				out[parent] = append(out[parent], o)
			}
		}
		if _, ok := out[parent]; !ok {
			out[parent] = []string{}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			s := strings.TrimSpace(x)
			if s == "" || (s[0] != '[' && s[0] != '{') {
				return
			}
			var decoded any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if dec.Decode(&decoded) == nil {
				walk(decoded)
			}
		case []any:
			for _, e := range x {
				o, ok := e.(map[string]any)
				if !ok {
					continue
				}
				parent := firstStr(o, "Parent", "ParentValue", "ParentFieldValue", "ParentOption", "parent")
				if parent == "" {
					continue
				}
				if inner, ok := firstAny(o, "Options", "Values", "ChildOptions", "options"); ok {
					add(parent, options(inner))
				} else if val := optionValue(o); val != "" {
					add(parent, []string{val})
				}
			}
		case map[string]any:
			for _, parent := range slices.Sorted(maps.Keys(x)) {
				add(parent, options(x[parent]))
			}
		}
	}
	walk(dependent)
	if len(out) == 0 {
		walk(optionSet)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, parents
}

func firstStr(o map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := str(o[k]); s != "" {
			return s
		}
	}
	return ""
}

func firstAny(o map[string]any, keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := o[k]; ok && v != nil {
			return v, true
		}
	}
	return nil, false
}

// options reads a list of option values in any of the shapes seen: an array
// of strings, an array of objects ({"Value"}, {"value"}, {"Text"}, {"label"}),
// a JSON string holding either, or a comma-separated string.
func options(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return nil
		}
		if s[0] == '[' || s[0] == '{' {
			var decoded any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if dec.Decode(&decoded) == nil {
				return options(decoded)
			}
		}
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			if o, ok := e.(map[string]any); ok {
				if val := optionValue(o); val != "" {
					out = append(out, val)
				}
				continue
			}
			if s := str(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	case map[string]any:
		// {"Options":[…]} or a single option object.
		for _, k := range []string{"Options", "options", "OptionSet", "Values"} {
			if inner, ok := x[k]; ok {
				return options(inner)
			}
		}
		if val := optionValue(x); val != "" {
			return []string{val}
		}
	}
	return nil
}

// optionValue picks the stored value of an option object: Value first
// (LeadSquared's OptionSet items carry "Text":"" beside it).
func optionValue(o map[string]any) string {
	for _, k := range []string{"Value", "value", "Text", "text", "Label", "label", "Name", "name"} {
		if s := str(o[k]); s != "" {
			return s
		}
	}
	return ""
}

// truthy reads LeadSquared's booleans: true, "true", "1", 1.
func truthy(v any) bool {
	switch strings.ToLower(strings.TrimSpace(str(v))) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// activityType reads one item of ProspectActivity.svc/ActivityTypes.Get.
func activityType(item map[string]any) (service.ActivityType, bool) {
	code, err := strconv.Atoi(strings.TrimSpace(str(item["ActivityEvent"])))
	if err != nil || code <= 0 {
		return service.ActivityType{}, false
	}
	name := str(item["DisplayName"])
	if name == "" {
		name = str(item["ActivityEventName"])
	}
	return service.ActivityType{Code: code, Name: name}, true
}
