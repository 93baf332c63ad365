package service

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFormValidateFieldRejectsEachRuleNamingFieldAndReason(t *testing.T) {
	t.Parallel()
	date := FormField{Schema: "mx_Custom_4", Label: "Check-in", Type: "Date"}
	tests := []struct {
		name  string
		field FormField
		value string
		want  []string // parts of the message; none means valid
	}{
		{"required empty", FormField{Label: "Opportunity Name", Type: "Text", Required: true}, "", []string{"Opportunity Name", "required"}},
		{"optional empty", FormField{Label: "City", Type: "Text"}, "", nil},
		{"text too long", FormField{Label: "City", Type: "Text", MaxLength: 5}, "Bengaluru", []string{"City", "at most 5 characters"}},
		{"text within length counts runes", FormField{Label: "City", Type: "Text", MaxLength: 4}, "पुणे", nil},
		{"select in options", FormField{Label: "Stage", Type: "Select", Options: []string{"New", "Qualified"}}, "Qualified", nil},
		{"select outside options", FormField{Label: "Stage", Type: "Select", Options: []string{"New", "Qualified"}}, "qualified", []string{"Stage", "must be one of New, Qualified", `"qualified"`}},
		{"select without options takes any", FormField{Label: "Source", Type: "Select"}, "Walk-in", nil},
		{"number", FormField{Label: "Guests", Type: "Number"}, "2.5", nil},
		{"negative number", FormField{Label: "Budget", Type: "Number"}, "-10", nil},
		{"not a number", FormField{Label: "Guests", Type: "Number"}, "two", []string{"Guests", "must be a number", `"two"`}},
		{"NaN is not a number", FormField{Label: "Guests", Type: "Number"}, "NaN", []string{"Guests", "must be a number"}},
		{"exponent is not a plain number", FormField{Label: "Budget", Type: "Number"}, "1e5", []string{"Budget", "must be a number"}},
		{"hex float is not a plain number", FormField{Label: "Budget", Type: "Number"}, "0x1p4", []string{"Budget", "must be a number"}},
		{"date", date, "2026-12-20", nil},
		{"leap day", date, "2028-02-29", nil},
		{"not a real day", date, "2026-02-30", []string{"Check-in", "not a real calendar date", "2026-02-30"}},
		{"no leap day in 2026", date, "2026-02-29", []string{"Check-in", "not a real calendar date"}},
		{"month 13", date, "2026-13-01", []string{"Check-in", "not a real calendar date"}},
		{"two-digit year", date, "26-01-05", []string{"Check-in", "YYYY-MM-DD", `"26-01-05"`}},
		{"slashes", date, "2026/01/05", []string{"Check-in", "YYYY-MM-DD", `"2026/01/05"`}},
		{"day first", date, "20/12/2026", []string{"Check-in", "YYYY-MM-DD"}},
		{"unpadded", date, "2026-1-5", []string{"Check-in", "YYYY-MM-DD"}},
		{"with time", date, "2026-01-05 10:00:00", []string{"Check-in", "YYYY-MM-DD"}},
		{"time", FormField{Label: "Slot", Type: "Time"}, "09:30", nil},
		{"bad time", FormField{Label: "Slot", Type: "Time"}, "9.30am", []string{"Slot", "HH:MM"}},
		{"e-mail", FormField{Label: "Email", Type: "Email"}, "a@x.com", nil},
		{"bad e-mail", FormField{Label: "Email", Type: "Email"}, "a@x", []string{"Email", "e-mail address"}},
		{"phone", FormField{Label: "Phone", Type: "Phone"}, "+91-9876543210", nil},
		{"bad phone", FormField{Label: "Phone", Type: "Phone"}, "call me", []string{"Phone", "phone number"}},
		{"boolean", FormField{Label: "VIP", Type: "Boolean"}, "true", nil},
		{"bad boolean", FormField{Label: "VIP", Type: "Boolean"}, "yes", []string{"VIP", "true or false"}},
		{"label falls back to schema", FormField{Schema: "mx_Custom_9", Type: "Number"}, "x", []string{"mx_Custom_9", "number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ValidateField(tt.field, tt.value)
			if len(tt.want) == 0 {
				if got != "" {
					t.Errorf("ValidateField(%q) = %q, want valid", tt.value, got)
				}
				return
			}
			for _, part := range tt.want {
				if !strings.Contains(got, part) {
					t.Errorf("ValidateField(%q) = %q, want it to contain %q", tt.value, got, part)
				}
			}
		})
	}
}

// testForm is the sandbox's opportunity type as a pre-filled form.
func testForm() *Form {
	return &Form{
		OpportunityType: 12000,
		Contact:         FormContact{Name: "Priya Shah", Phone: "+919876543210"},
		Fields: []FormField{
			{Schema: "mx_Custom_1", Label: "Opportunity Name", Type: "Text", Required: true, Value: "Priya Shah"},
			{Schema: "Status", Label: "Status", Type: "Select", Required: true, Options: []string{"Open", "Won", "Lost"}, Value: "Open"},
			{Schema: "mx_Custom_4", Label: "Check-in", Type: "Date", Required: true, Value: "20/12/2026"},
			{Schema: "mx_Custom_6", Label: "Guests", Type: "Number"},
		},
	}
}

func TestFormCheckMergesSubmissionOverPrefill(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		contact    *FormContact
		submitted  map[string]string
		wantValues map[string]string
		wantErrs   map[string]string // field → part of its message
	}{
		{
			name:       "absent fields keep their pre-filled values",
			submitted:  map[string]string{"mx_Custom_4": " 2026-12-20 "},
			wantValues: map[string]string{"mx_Custom_1": "Priya Shah", "Status": "Open", "mx_Custom_4": "2026-12-20", "mx_Custom_6": ""},
		},
		{
			name:      "the pre-filled bad date is reported",
			submitted: nil,
			wantErrs:  map[string]string{"mx_Custom_4": "YYYY-MM-DD"},
		},
		{
			name:      "an empty value clears a required field",
			submitted: map[string]string{"mx_Custom_1": "", "mx_Custom_4": "2026-12-20"},
			wantErrs:  map[string]string{"mx_Custom_1": "Opportunity Name is required"},
		},
		{
			name:      "unknown and system fields are refused with the others",
			submitted: map[string]string{"mx_Nope": "1", "Owner": "u", "mx_Custom_6": "x", "mx_Custom_4": "2026-12-20"},
			wantErrs: map[string]string{"mx_Nope": "not a field of opportunity type 12000", "Owner": "cannot be submitted",
				"mx_Custom_6": "Guests must be a number"},
		},
		{
			name:      "a contact without phone or e-mail cannot make a lead",
			contact:   &FormContact{Name: "Anon"},
			submitted: map[string]string{"mx_Custom_4": "2026-12-20"},
			wantErrs:  map[string]string{ContactField: "no phone number or e-mail"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form := testForm()
			if tt.contact != nil {
				form.Contact = *tt.contact
			}
			values, verr := checkForm(form, tt.submitted, nil)
			if len(tt.wantErrs) == 0 {
				if verr != nil {
					t.Fatalf("checkForm: %v", verr)
				}
				if !reflect.DeepEqual(values, tt.wantValues) {
					t.Errorf("values = %v, want %v", values, tt.wantValues)
				}
				return
			}
			if verr == nil || len(verr.Fields) != len(tt.wantErrs) {
				t.Fatalf("errors = %v, want exactly %v", verr, tt.wantErrs)
			}
			for f, part := range tt.wantErrs {
				if !strings.Contains(verr.Fields[f], part) {
					t.Errorf("error for %s = %q, want it to contain %q", f, verr.Fields[f], part)
				}
			}
		})
	}
}

func TestFormPrefillReadsEachSource(t *testing.T) {
	t.Parallel()
	tc := &ticketContext{
		ticket: Ticket{ID: 42, CustomAttributes: map[string]any{"check_in": "2026-12-20", "guests": float64(3), "vip": true, "nested": map[string]any{"a": 1}}},
		contact: Contact{Name: " Priya  Shah Rao ", Email: "priya@example.com", Phone: "+919876543210",
			CustomAttributes: map[string]any{"city": "Pune"}},
		agentEmail: "asha@acme.test",
	}
	tests := []struct{ src, want string }{
		{"contact.name", "Priya  Shah Rao"},
		{"contact.first_name", "Priya"},
		{"contact.last_name", "Shah Rao"},
		{"contact.email", "priya@example.com"},
		{"contact.phone", "+919876543210"},
		{"agent.email", "asha@acme.test"},
		{"conversation.id", "42"},
		{"contact.custom_attributes.city", "Pune"},
		{"contact.custom_attributes.missing", ""},
		{"conversation.custom_attributes.check_in", "2026-12-20"},
		{"conversation.custom_attributes.guests", "3"},
		{"conversation.custom_attributes.vip", "true"},
		{"conversation.custom_attributes.nested", ""},
		{"literal:Open", "Open"},
		{"nonsense", ""},
	}
	for _, tt := range tests {
		if got := prefill(tt.src, tc); got != tt.want {
			t.Errorf("prefill(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestFormBuildHidesSystemFieldsAndOpensNewOpportunities(t *testing.T) {
	t.Parallel()
	in := &Integration{ID: "acme", Rules: Rules{Form: FormRules{OpportunityType: 12000,
		Prefill: map[string]string{"mx_Custom_1": "contact.name"}}}}
	meta := []FieldMeta{
		{SchemaName: "mx_Custom_1", DisplayName: "Opportunity Name", DataType: "Text", Required: true},
		{SchemaName: "Status", DisplayName: "Status", DataType: "Select", Required: true, Options: []string{"Open", "Won", "Lost"}},
		{SchemaName: "Owner", DisplayName: "Owner", DataType: "Text"},
		{SchemaName: "CreatedOn", DisplayName: "Created On", DataType: "Date"},
		{SchemaName: "mx_Custom_9", DisplayName: "Locked", DataType: "Text", ReadOnly: true},
		{SchemaName: "mx_Custom_2", DisplayName: "", DataType: ""},
	}
	form := buildForm(in, meta, &ticketContext{ticket: Ticket{ID: 7}, contact: Contact{Name: "Priya"}})
	var got []string
	for _, f := range form.Fields {
		got = append(got, f.Schema+"="+f.Value+"/"+f.Type+"/"+f.Label)
	}
	want := []string{"mx_Custom_1=Priya/Text/Opportunity Name", "Status=Open/Select/Status", "mx_Custom_2=/Text/mx_Custom_2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

func TestFormPageLinkVerifiesOnlyItsTicketUntilExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	in := &Integration{ID: "acme", LinkSecret: HashToken("app-key-1"), Rules: Rules{Form: FormRules{PageLinkTTL: Duration(time.Hour)}}}
	pl := SignPage(in, 42, now)
	exp := time.Unix(pl.Expires.Unix(), 0)
	if !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("expires %v, want an hour later", pl.Expires)
	}
	e := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	other := &Integration{ID: "other", LinkSecret: in.LinkSecret}
	rotated := &Integration{ID: "acme", LinkSecret: HashToken("app-key-2")}
	tests := []struct {
		name   string
		in     *Integration
		ticket int64
		exp    string
		sig    string
		at     time.Time
		want   error
	}{
		{"valid", in, 42, e(exp), pl.Signature, now.Add(59 * time.Minute), nil},
		{"expired", in, 42, e(exp), pl.Signature, now.Add(time.Hour), ErrLinkExpired},
		{"another ticket", in, 43, e(exp), pl.Signature, now, ErrLinkInvalid},
		{"extended expiry", in, 42, e(exp.Add(time.Hour)), pl.Signature, now, ErrLinkInvalid},
		{"another integration", other, 42, e(exp), pl.Signature, now, ErrLinkInvalid},
		{"rotated app key", rotated, 42, e(exp), pl.Signature, now, ErrLinkInvalid},
		{"tampered signature", in, 42, e(exp), "A" + pl.Signature[1:], now, ErrLinkInvalid},
		{"no signature", in, 42, e(exp), "", now, ErrLinkInvalid},
		{"malformed expiry", in, 42, "soon", pl.Signature, now, ErrLinkInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := VerifyPage(tt.in, tt.ticket, tt.exp, tt.sig, tt.at); !errors.Is(err, tt.want) {
				t.Errorf("VerifyPage = %v, want %v", err, tt.want)
			}
		})
	}
}

// metaStub is a LeadSquared that only answers opportunity-type metadata.
type metaStub struct {
	LeadSquared
	calls int
}

func (s *metaStub) OpportunityTypeMetadata(_ context.Context, code int) ([]FieldMeta, error) {
	s.calls++
	return []FieldMeta{{SchemaName: "mx_Custom_1", DataType: "Text"}}, nil
}

func TestFormMetadataIsCachedForItsTTL(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	f := NewForms(nil, FormsConfig{MetadataTTL: 5 * time.Minute, Now: func() time.Time { return now }})
	stub := &metaStub{}
	a := &Integration{ID: "a", Rules: Rules{Form: FormRules{OpportunityType: 12000}}}
	b := &Integration{ID: "b", Rules: Rules{Form: FormRules{OpportunityType: 12000}}}
	steps := []struct {
		in      *Integration
		advance time.Duration
		calls   int
	}{
		{a, 0, 1},               // first read
		{a, 4 * time.Minute, 1}, // within the TTL: cached
		{b, 0, 2},               // another integration has its own entry
		{a, 2 * time.Minute, 3}, // 6 minutes after the first read: read again
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if _, err := f.metadata(context.Background(), s.in, stub); err != nil {
			t.Fatal(err)
		}
		if stub.calls != s.calls {
			t.Errorf("step %d: %d metadata calls, want %d", i, stub.calls, s.calls)
		}
	}
}
