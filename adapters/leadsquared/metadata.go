package leadsquared

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// dataTypes maps LeadSquared's data type names (lead metadata uses the
// canonical ones, opportunity metadata says String, DateTime, Dropdown…) to
// the canonical names of service.FieldMeta. Unknown types read as Text.
var dataTypes = map[string]string{
	"text": "Text", "string": "Text", "largetext": "Text", "textarea": "Text", "multilinetext": "Text",
	"number": "Number", "decimal": "Number", "integer": "Number", "int": "Number", "float": "Number",
	"double": "Number", "currency": "Number",
	"email": "Email", "emailaddress": "Email",
	"phone": "Phone", "phonenumber": "Phone",
	"website": "Website", "url": "Website",
	"date": "Date", "datetime": "Date",
	"time":   "Time",
	"select": "Select", "dropdown": "Select", "selectlist": "Select", "multiselect": "Select",
	"radio": "Select", "searchabledropdown": "Select", "dropdownwithothers": "Select",
	"boolean": "Boolean", "bool": "Boolean", "bit": "Boolean", "checkbox": "Boolean",
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
	if len(m.Options) > 0 && m.DataType == "Text" {
		m.DataType = "Select"
	}
	return m
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

// optionValue picks the stored value of an option object.
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
