package lsqfake

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// DefaultLeadFields is the lead metadata a new Fake starts with.
func DefaultLeadFields() []service.FieldMeta {
	return []service.FieldMeta{
		{SchemaName: "FirstName", DisplayName: "First Name", DataType: "Text", MaxLength: 100},
		{SchemaName: "LastName", DisplayName: "Last Name", DataType: "Text", MaxLength: 100},
		{SchemaName: "EmailAddress", DisplayName: "Email", DataType: "Email", MaxLength: 100},
		{SchemaName: "Phone", DisplayName: "Phone Number", DataType: "Phone", MaxLength: 50},
		{SchemaName: "Mobile", DisplayName: "Mobile Number", DataType: "Phone", MaxLength: 50},
		{SchemaName: "Company", DisplayName: "Company", DataType: "Text", MaxLength: 200},
		{SchemaName: "Source", DisplayName: "Lead Source", DataType: "Select", Options: []string{"WhatsApp", "Website", "Referral", "API"}},
		{SchemaName: "ProspectStage", DisplayName: "Lead Stage", DataType: "Select",
			Options: []string{"Prospect", "Opportunity", "Customer", "Invalid", "Not Interested"}},
		{SchemaName: "OwnerId", DisplayName: "Lead Owner", DataType: "Text"},
		{SchemaName: "mx_City", DisplayName: "City", DataType: "Text", MaxLength: 200},
		{SchemaName: "mx_Budget", DisplayName: "Budget", DataType: "Number"},
		{SchemaName: "mx_Check_In", DisplayName: "Check In", DataType: "Date"},
		{SchemaName: "mx_Interest", DisplayName: "Interest", DataType: "Select", Options: []string{"Villa", "Apartment", "Resort"}},
		{SchemaName: "mx_Preferred_Language", DisplayName: "Preferred Language", DataType: "Select",
			Options: []string{"English", "Hindi", "Tamil", "Malayalam"}},
	}
}

// DefaultOpportunityFields is the field set of the default opportunity type.
func DefaultOpportunityFields() []service.FieldMeta {
	return []service.FieldMeta{
		{SchemaName: "mx_Custom_1", DisplayName: "Opportunity Name", DataType: "Text", Required: true, MaxLength: 200},
		{SchemaName: "Status", DisplayName: "Status", DataType: "Select", Required: true, Options: []string{"Open", "Won", "Lost"}},
		{SchemaName: "mx_Custom_2", DisplayName: "Stage", DataType: "Select", ParentField: "Status",
			Options: []string{"New", "Reachable", "Qualified", "Booked", "Not Reachable", "Cancelled"},
			OptionsByParent: map[string][]string{
				"Open": {"New", "Reachable", "Qualified"}, "Won": {"Booked"}, "Lost": {"Not Reachable", "Cancelled"},
			}},
		{SchemaName: "Owner", DisplayName: "Owner", DataType: "Text"},
		{SchemaName: "mx_Custom_3", DisplayName: "City", DataType: "Text", MaxLength: 200},
		{SchemaName: "mx_Custom_4", DisplayName: "Check-in", DataType: "Date", Required: true},
		{SchemaName: "mx_Custom_5", DisplayName: "Check-out", DataType: "Date"},
		{SchemaName: "mx_Custom_6", DisplayName: "Guests", DataType: "Number"},
		{SchemaName: "mx_Custom_7", DisplayName: "Budget", DataType: "Number"},
		{SchemaName: "mx_Custom_8", DisplayName: "Amenities", DataType: "MultiSelect",
			Options: []string{"Pool", "Spa", "Breakfast", "Airport Transfer"}},
		{SchemaName: "mx_Custom_9", DisplayName: "Arrival", DataType: "DateTime"},
	}
}

// AddLeadField adds (or replaces, by schema name) a lead field in the metadata.
func (f *Fake) AddLeadField(m service.FieldMeta) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.leadMeta, func(x service.FieldMeta) bool { return x.SchemaName == m.SchemaName })
	if i >= 0 {
		f.leadMeta[i] = m
		return
	}
	f.leadMeta = append(f.leadMeta, m)
}

// AddActivityType registers an activity type code the activity calls accept.
func (f *Fake) AddActivityType(code int, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.activityTypes[code] = name
}

// handleActivityTypes answers ProspectActivity.svc/ActivityTypes.Get: every
// activity type the activity calls accept, by code, in the reference's shape
// {"ActivityEvent","ActivityEventName","DisplayName","EventType","Score",
// "Direction"}. What EventType and Direction mean is not documented; the
// fake says 0 for both.
func (f *Fake) handleActivityTypes(url.Values, []byte) reply {
	out := make([]map[string]any, 0, len(f.activityTypes))
	for _, code := range slices.Sorted(maps.Keys(f.activityTypes)) {
		name := f.activityTypes[code]
		out = append(out, map[string]any{"ActivityEvent": code, "ActivityEventName": name, "DisplayName": name,
			"EventType": 0, "Score": 0, "Direction": 0})
	}
	return ok(out)
}

// handleLeadMetadata answers LeadsMetaData.Get: system select fields list
// options as strings (old tenants), custom ones as [{"Value","Text"}] (new).
func (f *Fake) handleLeadMetadata(url.Values, []byte) reply {
	out := make([]map[string]any, 0, len(f.leadMeta))
	for _, m := range f.leadMeta {
		item := map[string]any{
			"SchemaName": m.SchemaName, "DisplayName": m.DisplayName, "DataType": m.DataType,
			"IsMandatory": m.Required, "MaxLength": m.MaxLength, "RenderType": renderType(m.DataType),
			"RenderTypeTextValue": renderTypeText(m.DataType),
			"IsVisible":           true, "IsSearchable": true, "DefaultValue": "", "AllowMultiple": false,
			"IsLeadIdentifier": m.SchemaName == "EmailAddress" || m.SchemaName == "Phone",
			"LockAfterCreate":  false, "Options": nil,
		}
		if len(m.Options) > 0 {
			if strings.HasPrefix(m.SchemaName, "mx_") {
				opts := make([]map[string]string, 0, len(m.Options))
				for _, o := range m.Options {
					opts = append(opts, map[string]string{"Value": o, "Text": o})
				}
				item["Options"] = opts
			} else {
				item["Options"] = m.Options
			}
		}
		if m.DataType == "DateTime" || m.DataType == "MultiSelect" {
			// Lead metadata has no such DataType: a Date rendered as
			// DateTime, a Select rendered as a multi-select.
			item["DataType"] = map[string]string{"DateTime": "Date", "MultiSelect": "Select"}[m.DataType]
		}
		out = append(out, item)
	}
	return ok(out)
}

// renderType is a plausible RenderType number per data type (the archived
// metadata page shows 13 for a Dropdown).
func renderType(dataType string) int {
	switch dataType {
	case "Select":
		return 13
	case "MultiSelect":
		return 14
	case "Date", "DateTime":
		return 6
	case "Number":
		return 2
	}
	return 0
}

// renderTypeText is the lead metadata's RenderTypeTextValue, from the values
// Create a Custom Lead Field documents (Textbox, Email, Phone, URL, Date,
// DateTime, Time, CheckBox, Dropdown…); "MultiSelect" is a guess.
func renderTypeText(dataType string) string {
	switch dataType {
	case "Email":
		return "Email"
	case "Phone":
		return "Phone"
	case "Website":
		return "URL"
	case "Date":
		return "Date"
	case "DateTime":
		return "DateTime"
	case "Time":
		return "Time"
	case "Boolean":
		return "CheckBox"
	case "Select":
		return "Dropdown"
	case "MultiSelect":
		return "MultiSelect"
	}
	return "Textbox"
}

// lsqDataType is how opportunity metadata names a canonical type: String,
// SearchableDropdown (Status, as the archived sample shows), Dropdown (a
// multi-select is a Dropdown with IsMultiSelectDropdown), DateTime, Number.
func lsqDataType(m service.FieldMeta) string {
	switch m.DataType {
	case "Text":
		return "String"
	case "Select", "MultiSelect":
		if m.SchemaName == "Status" {
			return "SearchableDropdown"
		}
		return "Dropdown"
	}
	return m.DataType
}

// optionSet renders options as the JSON string opportunity metadata carries,
// in the archived sample's shape: {"IsDefault","Text":"","Value",…,"Order"}.
func optionSet(opts []string) string {
	if len(opts) == 0 {
		return ""
	}
	items := make([]map[string]any, 0, len(opts))
	for i, o := range opts {
		items = append(items, map[string]any{"IsDefault": i == 0, "Text": "", "Value": o,
			"CanDelete": 1, "CanEdit": 1, "IsLastOption": 0, "Order": i})
	}
	b, _ := json.Marshal(items)
	return string(b)
}

// dependentOptionSet renders a dependent dropdown's options per parent value
// as a JSON string [{"Parent","Options"}] — the shape LeadSquared's
// dependent-dropdown push API takes; how metadata spells it is not on any
// archived page (docs/leadsquared.md), so this is the fake's guess.
func dependentOptionSet(m service.FieldMeta) string {
	if m.ParentField == "" || len(m.OptionsByParent) == 0 {
		return ""
	}
	items := make([]map[string]any, 0, len(m.OptionsByParent))
	for _, parent := range slices.Sorted(maps.Keys(m.OptionsByParent)) {
		items = append(items, map[string]any{"Parent": parent, "Options": m.OptionsByParent[parent]})
	}
	b, _ := json.Marshal(items)
	return string(b)
}

// oppFieldItem is one metadata or details entry of an opportunity field,
// with the keys of the archived GetOpportunityTypeMetadata sample.
func oppFieldItem(m service.FieldMeta, seq int) map[string]any {
	return map[string]any{
		"SchemaName": m.SchemaName, "InternalName": m.SchemaName, "DisplayName": m.DisplayName, "Value": nil,
		"DataType": lsqDataType(m), "IsMandatory": m.Required, "ShowInForm": true, "Sequence": seq,
		"ParentField": m.ParentField, "OptionSet": optionSet(m.Options), "DependentOptionSet": dependentOptionSet(m),
		"IsDefault": !strings.HasPrefix(m.SchemaName, "mx_"), "IsReadOnly": m.ReadOnly, "RenderType": "",
		"ExportAsPlainText": false, "IsMultiSelectDropdown": m.DataType == "MultiSelect",
		"IncludeOthersOption": false, "BehaviorOnMissingDropdownOption": 0, "IsOthersValue": false,
		"InternalSchemaName": "", "CustomObjectType": 2, "MaxFieldLength": cmpInt(m.MaxLength, 200),
	}
}

// handleOpportunityTypeMetadata answers GetOpportunityTypeMetadata?code=.
func (f *Fake) handleOpportunityTypeMetadata(q url.Values, _ []byte) reply {
	code, err := strconv.Atoi(param(q, "code"))
	if err != nil || code != f.opts.OpportunityType {
		return f.mxError("MXInvalidInputException", "Invalid opportunity type code")
	}
	fields := make([]map[string]any, 0, len(f.oppMeta))
	for i, m := range f.oppMeta {
		fields = append(fields, oppFieldItem(m, i))
	}
	return ok(map[string]any{
		"DisplayName": f.opts.OpportunityTypeName, "EventCode": code, "CanDelete": false, "Fields": fields,
	})
}

// param reads a query parameter by name, ignoring case (WCF does).
func param(q url.Values, name string) string {
	if v, ok := q[name]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// cmpInt returns a unless it is zero.
func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}
