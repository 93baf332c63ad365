package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// IntegrationConfig is one customer's YAML file (docs/examples/acme.yaml).
// Secrets are never written in the file: each secret field holds a ${ENV}
// reference that Resolve replaces from the environment.
//
// docs/integration.schema.json is generated from these types (with the
// jsonschema tags: required keys, allowed values); a test fails when it
// is out of date.
type IntegrationConfig struct {
	// ID is the integration's slug, used in webhook URLs and every table.
	ID string `yaml:"id" jsonschema:"required,pattern=^[a-z0-9][a-z0-9-]*$,maxLength=63"`
	// Name is shown to people.
	Name        string            `yaml:"name" jsonschema:"required"`
	LeadSquared LeadSquaredConfig `yaml:"leadsquared" jsonschema:"required"`
	LimeChat    LimeChatConfig    `yaml:"limechat" jsonschema:"required"`
	// FlowBuilder is needed only for campaigns.
	FlowBuilder FlowBuilderConfig `yaml:"flow_builder"`
	Rules       Rules             `yaml:",inline"`
	// AllowLoopback lets the platform URLs be http:// or https:// on a
	// loopback address (the sandbox's and tests' fakes). It is never read
	// from the file: the sandbox sets it, and `integration apply` from
	// LSQBRIDGE_ALLOW_LOOPBACK.
	AllowLoopback bool `yaml:"-"`
}

// LeadSquaredConfig is the LeadSquared side of an integration.
type LeadSquaredConfig struct {
	// Host is the regional API host (api-in21.leadsquared.com) or a base URL.
	Host string `yaml:"host" jsonschema:"required"`
	// AccessKey and SecretKey are an Administrator's keys: every call acts as that user.
	AccessKey string `yaml:"access_key" secret:"true" jsonschema:"required"`
	SecretKey string `yaml:"secret_key" secret:"true" jsonschema:"required"`
	// RequestsPer5s is the plan's API limit (Lite 2, Pro 5, Super 10, Standard 15, Enterprise 25); default 5.
	RequestsPer5s int `yaml:"requests_per_5s" jsonschema:"minimum=1,maximum=100"`
	// IntegrationUserID is the user whose keys we use; webhooks whose
	// ModifiedBy is this user report our own writes and are echoes.
	IntegrationUserID string `yaml:"integration_user_id"`
}

// LimeChatConfig is the LimeChat side of an integration.
type LimeChatConfig struct {
	// BaseURL is the LimeChat app, such as https://app.limechat.ai.
	BaseURL   string `yaml:"base_url" jsonschema:"required"`
	AccountID int64  `yaml:"account_id" jsonschema:"required,minimum=1"`
	// InboxID is the (WhatsApp) inbox new tickets are opened in.
	InboxID int64 `yaml:"inbox_id" jsonschema:"required,minimum=1"`
	// APIToken is an administrator's access token (Profile Settings > Access Token).
	APIToken string `yaml:"api_token" secret:"true" jsonschema:"required"`
	// WebhookSecret, when set, verifies X-Chatwoot-Signature on LimeChat's webhooks.
	WebhookSecret string `yaml:"webhook_secret" secret:"true"`
}

// FlowBuilderConfig is where stage/status campaigns are sent.
type FlowBuilderConfig struct {
	URL       string `yaml:"url"`
	AccountID string `yaml:"account_id"`
	Key       string `yaml:"key" secret:"true"`
}

// Rules is everything that decides what to sync; stored as the integration's
// rules jsonb and read by decide.
type Rules struct {
	Sync      SyncRules      `yaml:"sync" json:"sync" jsonschema:"required"`
	FieldTags []FieldTagRule `yaml:"field_tags" json:"field_tags,omitempty"`
	TagFields []TagFieldRule `yaml:"tag_fields" json:"tag_fields,omitempty"`
	TagNotes  []TagNoteRule  `yaml:"tag_activities" json:"tag_activities,omitempty"`
	Campaigns []CampaignRule `yaml:"campaigns" json:"campaigns,omitempty"`
	Form      FormRules      `yaml:"form" json:"form"`
	Fuse      FuseRules      `yaml:"fuse" json:"fuse"`
	Phone     PhoneRules     `yaml:"phone" json:"phone"`
	Notes     NotesRules     `yaml:"notes" json:"notes"`
}

// NotesRules says whether lsqbridge tells agents, with a private note on
// the ticket (seen by agents, never by the customer), when something a
// person did could not be mirrored: an owner or agent with no counterpart,
// an action that failed for good, changes held behind it. At most one note
// per record and cause.
type NotesRules struct {
	// Enabled turns the notes on or off; on when not set.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
}

// NotesOn reports whether private notes are posted (the default).
func (r *Rules) NotesOn() bool { return r.Notes.Enabled == nil || *r.Notes.Enabled }

// PhoneRules says how to read phone numbers written without their country
// code (docs/leadsquared.md, Phone numbers).
type PhoneRules struct {
	// DefaultCountryCode is the calling code ("91" for India; "+91" is read
	// the same) given to national numbers — at most 10 digits once a leading
	// 0 is dropped, without "+" or "00" — in LimeChat contacts, LeadSquared
	// lead look-ups and creates, and Flow-builder events. Without it such a
	// number is not used: a contact is opened without it and a Flow-builder
	// event that has no other number is not sent.
	DefaultCountryCode string `yaml:"default_country_code" json:"default_country_code,omitempty"`
}

// SyncRules says which records become tickets and how.
type SyncRules struct {
	Leads            bool     `yaml:"leads" json:"leads"`
	Opportunities    bool     `yaml:"opportunities" json:"opportunities"`
	OpportunityTypes []int    `yaml:"opportunity_types" json:"opportunity_types,omitempty"`
	InitialLabels    []string `yaml:"initial_labels" json:"initial_labels,omitempty"`
	// TicketFields are lead/opportunity fields copied into the ticket's
	// custom attributes when it is created (schema name → attribute key).
	TicketFields map[string]string `yaml:"ticket_fields" json:"ticket_fields,omitempty"`
}

// FieldTagRule adds Tag to the ticket when Field changes to Value (any value
// when Value is empty) on a record of kind Record.
type FieldTagRule struct {
	// Record is lead or opportunity (required: lead and opportunity fields
	// are different fields).
	Record RecordKind `yaml:"record" json:"record,omitempty" jsonschema:"required"`
	Field  string     `yaml:"field" json:"field" jsonschema:"required"`
	Value  string     `yaml:"value" json:"value,omitempty"`
	Tag    string     `yaml:"tag" json:"tag" jsonschema:"required"`
}

// TagFieldRule sets LeadSquared fields when Tag is added to the ticket of
// a record of kind Record.
type TagFieldRule struct {
	Tag string `yaml:"tag" json:"tag" jsonschema:"required"`
	// Record is lead or opportunity (required): LeadSquared refuses a whole
	// update naming a field the record does not have.
	Record RecordKind        `yaml:"record" json:"record,omitempty" jsonschema:"required"`
	Set    map[string]string `yaml:"set" json:"set" jsonschema:"required"`
}

// TagNoteRule posts a LeadSquared activity when Tag is added to the ticket
// of a record of kind Record.
type TagNoteRule struct {
	Tag string `yaml:"tag" json:"tag" jsonschema:"required"`
	// Record is lead or opportunity (required): activities are posted on
	// leads and on opportunities through different calls.
	Record RecordKind `yaml:"record" json:"record,omitempty" jsonschema:"required"`
	// ActivityEvent is the activity type code (checked against
	// ActivityTypes.Get when the file is applied).
	ActivityEvent int    `yaml:"activity_event" json:"activity_event" jsonschema:"required,minimum=1"`
	Note          string `yaml:"note" json:"note"`
}

// CampaignRule sends a Flow-builder event when Field of a record of kind
// Record changes to To (from From, when set).
type CampaignRule struct {
	// Record is lead or opportunity (required).
	Record RecordKind `yaml:"record" json:"record" jsonschema:"required"`
	Field  string     `yaml:"field" json:"field" jsonschema:"required"`
	From   string     `yaml:"from" json:"from,omitempty"`
	To     string     `yaml:"to" json:"to" jsonschema:"required"`
	Event  string     `yaml:"event" json:"event" jsonschema:"required,pattern=^[A-Za-z0-9_.:-]+$"`
	// Data maps Flow-builder variable names to record schema names.
	Data map[string]string `yaml:"data" json:"data,omitempty"`
}

// FormRules configures the opportunity form.
type FormRules struct {
	OpportunityType int `yaml:"opportunity_type" json:"opportunity_type,omitempty"`
	// Prefill maps opportunity schema names to LimeChat sources:
	// contact.name, contact.email, contact.phone, contact.custom_attributes.X,
	// conversation.custom_attributes.X, agent.email.
	Prefill       map[string]string `yaml:"prefill" json:"prefill,omitempty"`
	IncompleteTag string            `yaml:"incomplete_tag" json:"incomplete_tag,omitempty"`
	// PageLinkTTL is how long a signed agent-page link stays valid.
	PageLinkTTL Duration `yaml:"page_link_ttl" json:"page_link_ttl,omitempty"`
	// AppLinksPerMinute bounds the form links the Dashboard App key may
	// sign (for the whole account, every process together).
	AppLinksPerMinute int `yaml:"app_links_per_minute" json:"app_links_per_minute,omitempty"`
	// DateOrder is how a pre-filled date written with slashes, dashes or dots
	// and the year last is read: day_first (20/12/2026, the default) or
	// month_first (12/20/2026). A date that is not valid in that order is
	// left as it came and refused, never read the other way round.
	DateOrder string `yaml:"date_order" json:"date_order,omitempty"`
	// Timezone (IANA, default Asia/Kolkata) is where pre-filled instants
	// fall on a calendar day (a LimeChat date attribute saved as
	// 2026-12-19T18:30:00Z is 2026-12-20 there), and the zone of pre-filled
	// date-times written without one, except LeadSquared's own
	// "YYYY-MM-DD HH:MM:SS", which is UTC.
	Timezone string `yaml:"timezone" json:"timezone,omitempty"`
}

// Date orders of FormRules.DateOrder.
const (
	DateOrderDayFirst   = "day_first"
	DateOrderMonthFirst = "month_first"
)

// DefaultFormTimezone is FormRules.Timezone when the file sets none.
const DefaultFormTimezone = "Asia/Kolkata"

// FuseRules bounds actions per link to stop any loop the rules might build.
type FuseRules struct {
	MaxActionsPerMinute int `yaml:"max_actions_per_minute" json:"max_actions_per_minute,omitempty"`
}

// Duration is a time.Duration written as "24h" in YAML and JSON.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("not a duration like 24h: %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := time.ParseDuration(strings.Trim(string(b), `"`))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ConfigError is a configuration problem at a key path such as
// "rules.field_tags[1].tag" or a missing environment variable.
type ConfigError struct {
	Path string
	Msg  string
}

func (e *ConfigError) Error() string { return e.Path + ": " + e.Msg }

// ConfigErrors lists every problem found, so one run shows them all.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// ParseIntegrationConfig reads YAML strictly: an unknown key is an error that
// names its path. Secrets stay as ${ENV} references until Resolve.
func ParseIntegrationConfig(data []byte) (*IntegrationConfig, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("parse YAML: the file is empty")
	}
	var errs ConfigErrors
	checkKeys(root.Content[0], reflect.TypeOf(IntegrationConfig{}), "", &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	var cfg IntegrationConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	return &cfg, nil
}

// checkKeys walks a node against the type it decodes into and reports,
// with their full path, keys the type does not have and values the
// decoder would refuse (a word where a number goes, a list where one value
// goes). Each value is tried with the YAML decoder itself, so what is
// reported is exactly what decoding would refuse.
func checkKeys(n *yaml.Node, t reflect.Type, path string, errs *ConfigErrors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return // an empty value leaves the zero value
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) || isScalarKind(t.Kind()) {
		if n.Kind != yaml.ScalarNode {
			*errs = append(*errs, &ConfigError{Path: orRoot(path), Msg: "must be a single value, not a " + nodeKind(n)})
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			*errs = append(*errs, &ConfigError{Path: orRoot(path), Msg: scalarProblem(t, n, err)})
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, &ConfigError{Path: orRoot(path), Msg: "must be a mapping of keys, not a " + nodeKind(n)})
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			p := joinPath(path, key)
			if !ok {
				*errs = append(*errs, &ConfigError{Path: p, Msg: "unknown key"})
				continue
			}
			checkKeys(n.Content[i+1], ft, p, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, &ConfigError{Path: orRoot(path), Msg: "must be a mapping, not a " + nodeKind(n)})
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			*errs = append(*errs, &ConfigError{Path: orRoot(path), Msg: "must be a list, not a " + nodeKind(n)})
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return fmt.Sprintf("value (%q)", n.Value)
}

// scalarProblem says what a value that does not decode should be.
func scalarProblem(t reflect.Type, n *yaml.Node, err error) string {
	switch t.Kind() {
	case reflect.Bool:
		return fmt.Sprintf("must be true or false (got %q)", n.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t == reflect.TypeOf(Duration(0)) {
			break
		}
		return fmt.Sprintf("must be a whole number (got %q)", n.Value)
	case reflect.Float32, reflect.Float64:
		return fmt.Sprintf("must be a number (got %q)", n.Value)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return te.Errors[0]
	}
	return err.Error()
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

// secret is one secret field of the file.
type secret struct {
	path     string
	v        *string
	required bool
}

func (c *IntegrationConfig) secrets() []secret {
	return []secret{
		{"leadsquared.access_key", &c.LeadSquared.AccessKey, true},
		{"leadsquared.secret_key", &c.LeadSquared.SecretKey, true},
		{"limechat.api_token", &c.LimeChat.APIToken, true},
		{"limechat.webhook_secret", &c.LimeChat.WebhookSecret, false},
		{"flow_builder.key", &c.FlowBuilder.Key, c.FlowBuilder.URL != ""},
	}
}

// Resolve replaces every secret's ${ENV} reference with the variable's value
// from lookup (os.LookupEnv when nil). A secret written in clear in the file,
// or a variable that is not set, is an error naming the key and variable.
func (c *IntegrationConfig) Resolve(lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var errs ConfigErrors
	for _, s := range c.secrets() {
		if *s.v == "" {
			if s.required {
				errs = append(errs, &ConfigError{Path: s.path, Msg: "required: give a ${ENV} reference"})
			}
			continue
		}
		m := envRef.FindStringSubmatch(*s.v)
		if m == nil {
			*s.v = ""
			errs = append(errs, &ConfigError{Path: s.path, Msg: "secrets must be ${ENV} references, never written in the file"})
			continue
		}
		val, ok := lookup(m[1])
		if !ok || val == "" {
			errs = append(errs, &ConfigError{Path: s.path, Msg: fmt.Sprintf("environment variable %s is not set", m[1])})
			continue
		}
		*s.v = val
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
