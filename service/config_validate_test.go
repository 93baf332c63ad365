package service

import (
	"strings"
	"testing"
)

// validConfig is a complete configuration with one rule of each kind.
func validConfig() *IntegrationConfig {
	return &IntegrationConfig{
		ID: "acme", Name: "Acme",
		LeadSquared: LeadSquaredConfig{Host: "api-in21.leadsquared.com"},
		LimeChat:    LimeChatConfig{BaseURL: "https://app.limechat.ai", AccountID: 1, InboxID: 1},
		FlowBuilder: FlowBuilderConfig{URL: "https://fb.example.com", AccountID: "fb"},
		Rules:       *testRules(),
	}
}

func TestConfigRefusesRulesWithoutARecordKindByKeyPath(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Rules.TagNotes[0].Record = KindLead
	if err := c.Validate(); err != nil {
		t.Fatalf("a configuration whose every rule has a kind was refused: %v", err)
	}
	c = validConfig()
	c.Rules.FieldTags[1].Record = ""
	c.Rules.TagFields[0].Record = ""
	c.Rules.TagNotes[0].Record = "" // tag_activities had no kind at all before
	c.Rules.Campaigns[1].Record = "deal"
	err := c.Validate()
	if err == nil {
		t.Fatal("rules without a record kind were accepted")
	}
	for _, want := range []string{
		"field_tags[1].record: required: lead or opportunity",
		"tag_fields[0].record: required: lead or opportunity",
		"tag_activities[0].record: required: lead or opportunity",
		`campaigns[1].record: must be lead or opportunity (got "deal")`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors do not name %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "field_tags[0]") {
		t.Errorf("a rule with its kind was reported:\n%v", err)
	}
}

func TestConfigReadsPhoneAndFormSettings(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Rules.TagNotes[0].Record = KindLead
	c.Rules.Phone.DefaultCountryCode = " +91"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Rules.Phone.DefaultCountryCode != "91" || c.Rules.Form.DateOrder != DateOrderDayFirst || c.Rules.Form.Timezone != "Asia/Kolkata" {
		t.Errorf("defaults: country code %q, date order %q, time zone %q", c.Rules.Phone.DefaultCountryCode,
			c.Rules.Form.DateOrder, c.Rules.Form.Timezone)
	}
	for _, tt := range []struct {
		set  func(*Rules)
		want string
	}{
		{func(r *Rules) { r.Phone.DefaultCountryCode = "India" }, "phone.default_country_code: must be a country calling code"},
		{func(r *Rules) { r.Phone.DefaultCountryCode = "0091" }, "phone.default_country_code: must be a country calling code"},
		{func(r *Rules) { r.Form.DateOrder = "dd/mm" }, "form.date_order: must be day_first (20/12/2026) or month_first"},
		{func(r *Rules) { r.Form.Timezone = "IST" }, "form.timezone: must be an IANA time zone"},
	} {
		c := validConfig()
		c.Rules.TagNotes[0].Record = KindLead
		tt.set(&c.Rules)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want %q", err, tt.want)
		}
	}
}

func TestConfigChecksActivityCodesAgainstLeadSquared(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Rules.TagNotes = []TagNoteRule{
		{Tag: "quote-sent", Record: KindLead, ActivityEvent: 201},
		{Tag: "typo", Record: KindLead, ActivityEvent: 2010},
		{Tag: "booking", Record: KindOpportunity, ActivityEvent: 12000},
	}
	err := c.CheckActivities([]ActivityType{{Code: 201, Name: "WhatsApp Conversation"}, {Code: 12000, Name: "Booking"}})
	if err == nil {
		t.Fatal("unknown activity codes were accepted")
	}
	for _, want := range []string{
		"tag_activities[1].activity_event: 2010 is not an activity type in LeadSquared",
		"tag_activities[2].activity_event: 12000 is an opportunity type, not an activity type",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors do not name %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tag_activities[0]") {
		t.Errorf("a known code was reported:\n%v", err)
	}
}
