package service

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// stage is the sandbox's Stage: its options depend on Status.
var stage = FormField{Schema: "mx_Custom_2", Label: "Stage", Type: "Select", ParentField: "Status",
	Options: []string{"New", "Reachable", "Qualified"},
	OptionsByParent: map[string][]string{
		"Open": {"New", "Reachable", "Qualified"}, "Won": {"Booked"}, "Lost": {},
	}}

func TestFormCheckValueOfEachNewType(t *testing.T) {
	t.Parallel()
	amenities := FormField{Schema: "mx_Custom_8", Label: "Amenities", Type: TypeMultiSelect, Options: []string{"Pool", "Spa", "Breakfast"}}
	arrival := FormField{Schema: "mx_Custom_9", Label: "Arrival", Type: TypeDateTime}
	tests := []struct {
		name   string
		field  FormField
		value  string
		values map[string]string // the form's other values
		want   string            // the value LeadSquared gets, when valid
		msg    []string          // parts of the message, when refused
	}{
		{"multi-select, canonical", amenities, "Pool;Spa", nil, "Pool;Spa", nil},
		{"multi-select, spaces and repeats", amenities, " Spa ; Pool;Spa;", nil, "Spa;Pool", nil},
		{"multi-select, one", amenities, "Breakfast", nil, "Breakfast", nil},
		{"multi-select, not an option", amenities, "Pool;Gym", nil, "", []string{"Amenities", "chosen from Pool, Spa, Breakfast", `"Gym"`}},
		{"multi-select, required and only separators", FormField{Label: "Amenities", Type: TypeMultiSelect, Required: true}, " ; ", nil, "", []string{"Amenities is required"}},
		{"multi-select without options takes any", FormField{Label: "Tags", Type: TypeMultiSelect}, "a;b", nil, "a;b", nil},
		{"date-time in UTC", arrival, "2026-12-20 09:30", nil, "2026-12-20 09:30:00", nil},
		{"date-time in UTC with seconds", arrival, "2026-12-20 09:30:15", nil, "2026-12-20 09:30:15", nil},
		{"date-time with the agent's offset", arrival, "2026-12-20T15:00:00+05:30", nil, "2026-12-20 09:30:00", nil},
		{"date-time with offset, no seconds", arrival, "2026-12-20T15:00+05:30", nil, "2026-12-20 09:30:00", nil},
		{"date-time in Z", arrival, "2026-12-20T09:30:00Z", nil, "2026-12-20 09:30:00", nil},
		{"date-time without zone in T form", arrival, "2026-12-20T09:30", nil, "", []string{"Arrival", "YYYY-MM-DD HH:MM", `"2026-12-20T09:30"`}},
		{"date-time day first", arrival, "20/12/2026 09:30", nil, "", []string{"Arrival", "YYYY-MM-DD HH:MM"}},
		{"date-time not a real day", arrival, "2026-02-30 09:30", nil, "", []string{"Arrival", "not a real date and time"}},
		{"date-time hour 25", arrival, "2026-12-20 25:00", nil, "", []string{"Arrival", "not a real date and time"}},
		{"stage allowed for Open", stage, "Qualified", map[string]string{"Status": "Open"}, "Qualified", nil},
		{"stage allowed for Won", stage, "Booked", map[string]string{"Status": "Won"}, "Booked", nil},
		{"stage of another status", stage, "Qualified", map[string]string{"Status": "Won"}, "", []string{"Stage", "one of Booked for Status Won", `"Qualified"`}},
		{"stage without a status", stage, "New", map[string]string{"Status": ""}, "", []string{"Stage depends on Status", "choose Status first"}},
		{"stage for a status without stages", stage, "New", map[string]string{"Status": "Lost"}, "", []string{"Stage has no options for Status \"Lost\""}},
		{"empty stage is fine", stage, "", map[string]string{"Status": "Won"}, "", nil},
		{"unsupported and required", FormField{Label: "Sales Owner", Type: TypeUnsupported, Required: true}, "", nil, "", []string{"Sales Owner", "cannot fill"}},
		{"unsupported with a value", FormField{Label: "Sales Owner", Type: TypeUnsupported}, "x", nil, "", []string{"cannot fill"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, msg := checkValue(tt.field, tt.value, tt.values)
			if len(tt.msg) == 0 {
				if msg != "" || got != tt.want {
					t.Errorf("checkValue(%q) = %q, %q; want %q, valid", tt.value, got, msg, tt.want)
				}
				return
			}
			for _, part := range tt.msg {
				if !strings.Contains(msg, part) {
					t.Errorf("checkValue(%q) message %q, want it to contain %q", tt.value, msg, part)
				}
			}
		})
	}
}

func TestFormPrefillNormalizesDatesToYYYYMMDD(t *testing.T) {
	t.Parallel()
	dayFirst := newPrefillNormalizer(&Rules{}) // defaults: day first, Asia/Kolkata
	monthFirst := newPrefillNormalizer(&Rules{Form: FormRules{DateOrder: DateOrderMonthFirst, Timezone: "America/New_York"}})
	tests := []struct {
		name string
		n    prefillNormalizer
		raw  string
		want string // the raw value itself when it cannot be read
	}{
		{"day first with slashes", dayFirst, "20/12/2026", "2026-12-20"},
		{"day first, unpadded: 5 January", dayFirst, "5/1/2026", "2026-01-05"},
		{"day first with dashes", dayFirst, "20-12-2026", "2026-12-20"},
		{"day first with dots", dayFirst, "20.12.2026", "2026-12-20"},
		{"ambiguous 05/01 is day first", dayFirst, "05/01/2026", "2026-01-05"},
		{"month first where configured", monthFirst, "12/20/2026", "2026-12-20"},
		{"ambiguous 05/01 is month first there", monthFirst, "05/01/2026", "2026-05-01"},
		{"a month-first date is not guessed in a day-first integration", dayFirst, "12/20/2026", "12/20/2026"},
		{"a day-first date is not guessed in a month-first integration", monthFirst, "20/12/2026", "20/12/2026"},
		{"already YYYY-MM-DD", dayFirst, "2026-12-20", "2026-12-20"},
		{"year first, slashes, unpadded", dayFirst, "2026/12/5", "2026-12-05"},
		{"LeadSquared's layout at midnight", dayFirst, "2026-12-20 00:00:00", "2026-12-20"},
		{"LeadSquared's read layout", dayFirst, "2026-12-20 00:00:00.000", "2026-12-20"},
		{"LeadSquared's UTC instant falls on the next day in India", dayFirst, "2026-12-19 18:30:00", "2026-12-20"},
		{"an ISO timestamp of midnight in India", dayFirst, "2026-12-19T18:30:00.000Z", "2026-12-20"},
		{"an ISO timestamp with its own offset", dayFirst, "2026-12-20T23:30:00+05:30", "2026-12-20"},
		{"the same instant in New York", monthFirst, "2026-12-19T18:30:00.000Z", "2026-12-19"},
		{".NET date of LeadSquared metadata", dayFirst, "/Date(1797705000000+0000)/", "2026-12-20"},
		{"day first with a time", dayFirst, "20/12/2026 15:30", "2026-12-20"},
		{"not a real day", dayFirst, "31/02/2026", "31/02/2026"},
		{"two-digit year is not guessed", dayFirst, "20/12/26", "20/12/26"},
		{"words", dayFirst, "next Friday", "next Friday"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.n.value("Date", tt.raw); got != tt.want {
				t.Errorf("date %q = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestFormPrefillNormalizesDateTimesMultiSelectsAndTimes(t *testing.T) {
	t.Parallel()
	n := newPrefillNormalizer(&Rules{Phone: PhoneRules{DefaultCountryCode: "91"}})
	tests := []struct {
		typ  string
		raw  any
		want string
	}{
		{TypeDateTime, "2026-12-20T15:00:00+05:30", "2026-12-20 09:30:00"},
		{TypeDateTime, "2026-12-20T09:30:00.000Z", "2026-12-20 09:30:00"},
		{TypeDateTime, "2026-12-20 09:30:00", "2026-12-20 09:30:00"},   // LeadSquared's layout is UTC
		{TypeDateTime, "2026-12-20 09:30", "2026-12-20 09:30:00"},      // year first: as LeadSquared writes it
		{TypeDateTime, "20/12/2026 15:00", "2026-12-20 09:30:00"},      // a person's: the integration's zone
		{TypeDateTime, "20/12/2026", "2026-12-19 18:30:00"},            // midnight there
		{TypeDateTime, "/Date(1797759000000)/", "2026-12-20 09:30:00"}, // metadata's .NET date
		{TypeDateTime, "soon", "soon"},
		{TypeMultiSelect, []any{"Pool", "Spa", "Pool"}, "Pool;Spa"},
		{TypeMultiSelect, "Pool, Spa", "Pool;Spa"},
		{TypeMultiSelect, "Pool;Spa ;", "Pool;Spa"},
		{TypeMultiSelect, []any{}, ""},
		{"Time", "9:30", "09:30"},
		{"Time", "09:30:00", "09:30"},
		{"Time", "09:30:20", "09:30:20"},
		{"Boolean", "Yes", "true"},
		{"Boolean", "0", "false"},
		{"Phone", "9876543210", "+91-9876543210"},
		{"Phone", "+44 7911 123456", "+447911123456"},
		{"Text", []any{"a"}, ""},
	}
	for _, tt := range tests {
		if got := n.value(tt.typ, tt.raw); got != tt.want {
			t.Errorf("%s %v = %q, want %q", tt.typ, tt.raw, got, tt.want)
		}
	}
}

func TestFormBuildFollowsTypesAndDependentOptions(t *testing.T) {
	t.Parallel()
	in := &Integration{ID: "acme", Rules: Rules{Form: FormRules{OpportunityType: 12000, Prefill: map[string]string{
		"mx_Custom_4": "conversation.custom_attributes.check_in",
		"mx_Custom_8": "conversation.custom_attributes.amenities",
		"mx_Custom_9": "conversation.custom_attributes.arrival",
		"Status":      "literal:Won",
	}}}}
	meta := []FieldMeta{
		{SchemaName: "Status", DisplayName: "Status", DataType: "Select", Required: true, Options: []string{"Open", "Won", "Lost"}},
		{SchemaName: "mx_Custom_2", DisplayName: "Stage", DataType: "Select", ParentField: "Status",
			Options: []string{"New", "Booked"}, OptionsByParent: map[string][]string{"Open": {"New"}, "Won": {"Booked"}}},
		{SchemaName: "mx_Custom_4", DisplayName: "Check-in", DataType: "Date"},
		{SchemaName: "mx_Custom_8", DisplayName: "Amenities", DataType: TypeMultiSelect, Options: []string{"Pool", "Spa"}},
		{SchemaName: "mx_Custom_9", DisplayName: "Arrival", DataType: TypeDateTime},
		{SchemaName: "mx_Custom_10", DisplayName: "Referrer", DataType: TypeUnsupported},
		{SchemaName: "mx_Custom_11", DisplayName: "Sales Owner", DataType: TypeUnsupported, Required: true},
	}
	tc := &ticketContext{ticket: Ticket{ID: 7, CustomAttributes: map[string]any{
		"check_in": "20/12/2026", "amenities": []any{"Spa", "Pool"}, "arrival": "2026-12-20T15:00:00+05:30",
	}}, contact: Contact{Name: "Priya", Phone: "9876543210"}}
	form := buildForm(in, meta, tc)
	got := map[string]FormField{}
	var order []string
	for _, f := range form.Fields {
		got[f.Schema] = f
		order = append(order, f.Schema)
	}
	if want := []string{"Status", "mx_Custom_2", "mx_Custom_4", "mx_Custom_8", "mx_Custom_9", "mx_Custom_11"}; !reflect.DeepEqual(order, want) {
		t.Errorf("fields %v, want %v (an optional field lsqbridge cannot fill is left out, a mandatory one shown)", order, want)
	}
	if f := got["mx_Custom_2"]; !reflect.DeepEqual(f.Options, []string{"Booked"}) || f.ParentField != "Status" || len(f.OptionsByParent) != 2 {
		t.Errorf("Stage = %+v, want Won's options and every status's", f)
	}
	if v := got["mx_Custom_4"].Value; v != "2026-12-20" {
		t.Errorf("check-in pre-filled %q, want 2026-12-20", v)
	}
	if v := got["mx_Custom_8"].Value; v != "Spa;Pool" {
		t.Errorf("amenities pre-filled %q, want Spa;Pool", v)
	}
	if v := got["mx_Custom_9"].Value; v != "2026-12-20 09:30:00" {
		t.Errorf("arrival pre-filled %q, want 2026-12-20 09:30:00 (UTC)", v)
	}
	if form.Contact.Phone != "9876543210" || form.phoneProblem == "" {
		t.Errorf("contact phone %q (%q): without a default country code a national number cannot be used", form.Contact.Phone, form.phoneProblem)
	}
	in.Rules.Phone.DefaultCountryCode = "91"
	if form := buildForm(in, meta, tc); form.Contact.Phone != "+919876543210" || form.phoneProblem != "" {
		t.Errorf("contact phone %q (%q), want +919876543210", form.Contact.Phone, form.phoneProblem)
	}
}

func TestFormCheckTakesListsOnlyForMultiSelects(t *testing.T) {
	t.Parallel()
	form := &Form{OpportunityType: 12000, Contact: FormContact{Email: "p@x.com"}, Fields: []FormField{
		{Schema: "Status", Label: "Status", Type: "Select", Options: []string{"Open", "Won"}, Value: "Open"},
		stage,
		{Schema: "mx_Custom_8", Label: "Amenities", Type: TypeMultiSelect, Options: []string{"Pool", "Spa"}},
		{Schema: "mx_Custom_9", Label: "Arrival", Type: TypeDateTime},
	}}
	values, verr := checkForm(form, map[string]string{"Status": "Won", "mx_Custom_2": "Booked", "mx_Custom_9": "2026-12-20T15:00+05:30"},
		map[string][]string{"mx_Custom_8": {"Spa", " Pool"}})
	if verr != nil {
		t.Fatal(verr)
	}
	want := map[string]string{"Status": "Won", "mx_Custom_2": "Booked", "mx_Custom_8": "Spa;Pool", "mx_Custom_9": "2026-12-20 09:30:00"}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values %v, want %v (as LeadSquared takes them)", values, want)
	}
	_, verr = checkForm(form, map[string]string{"mx_Custom_2": "Booked"},
		map[string][]string{"Status": {"Open"}, "mx_Custom_8": {"Pool;Spa"}, "mx_Nope": {"x"}})
	if verr == nil {
		t.Fatal("lists for a select, an option with the separator and an unknown field were accepted")
	}
	for field, part := range map[string]string{
		"Status": "takes one value, not a list", "mx_Custom_8": `cannot contain ";"`,
		"mx_Nope": "not a field", "mx_Custom_2": "one of New, Reachable, Qualified for Status Open",
	} {
		if !strings.Contains(verr.Fields[field], part) {
			t.Errorf("error for %s = %q, want it to contain %q", field, verr.Fields[field], part)
		}
	}
}

func TestFormTimezoneDefaultLoads(t *testing.T) {
	t.Parallel()
	if _, err := time.LoadLocation(DefaultFormTimezone); err != nil {
		t.Fatalf("the default form time zone does not load: %v", err)
	}
}
