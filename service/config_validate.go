package service

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
var eventPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// Validate checks values and rule consistency; call it after Resolve.
// Defaults are filled in place.
func (c *IntegrationConfig) Validate() error {
	var errs ConfigErrors
	add := func(path, msg string, args ...any) {
		errs = append(errs, &ConfigError{Path: path, Msg: fmt.Sprintf(msg, args...)})
	}
	if !idPattern.MatchString(c.ID) {
		add("id", "must be a slug of lowercase letters, digits and dashes (got %q)", c.ID)
	}
	if strings.TrimSpace(c.Name) == "" {
		add("name", "required")
	}
	if c.LeadSquared.Host == "" {
		add("leadsquared.host", "required (for example api-in21.leadsquared.com)")
	} else if u, err := NormalizeBaseURL(c.LeadSquared.Host); err != nil {
		add("leadsquared.host", "%v", err)
	} else if err := CheckOutboundURL(u, c.AllowLoopback); err != nil {
		add("leadsquared.host", "%v", err)
	}
	if c.LeadSquared.RequestsPer5s == 0 {
		c.LeadSquared.RequestsPer5s = 5
	}
	if c.LeadSquared.RequestsPer5s < 1 || c.LeadSquared.RequestsPer5s > 100 {
		add("leadsquared.requests_per_5s", "must be between 1 and 100 (your plan's limit; Pro is 5)")
	}
	if u, err := NormalizeBaseURL(c.LimeChat.BaseURL); c.LimeChat.BaseURL == "" || err != nil {
		add("limechat.base_url", "required: a URL such as https://app.limechat.ai")
	} else if err := CheckOutboundURL(u, c.AllowLoopback); err != nil {
		add("limechat.base_url", "%v", err)
	}
	if c.LimeChat.AccountID <= 0 {
		add("limechat.account_id", "required: a positive number")
	}
	if c.LimeChat.InboxID <= 0 {
		add("limechat.inbox_id", "required: a positive number")
	}
	if c.FlowBuilder.URL != "" {
		if u, err := NormalizeBaseURL(c.FlowBuilder.URL); err != nil {
			add("flow_builder.url", "%v", err)
		} else if err := CheckOutboundURL(u, c.AllowLoopback); err != nil {
			add("flow_builder.url", "%v", err)
		}
		if c.FlowBuilder.AccountID == "" {
			add("flow_builder.account_id", "required when flow_builder.url is set")
		}
	}
	c.Rules.validate(c.FlowBuilder.URL != "", add)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (r *Rules) validate(haveFlowBuilder bool, add func(string, string, ...any)) {
	if !r.Sync.Leads && !r.Sync.Opportunities {
		add("sync", "enable leads, opportunities or both")
	}
	for i, t := range r.Sync.OpportunityTypes {
		if t <= 0 {
			add(fmt.Sprintf("sync.opportunity_types[%d]", i), "must be a positive type code")
		}
	}
	// Every rule names its record kind: lead and opportunity fields differ,
	// and LeadSquared refuses a whole update (or activity) that names what
	// the record does not have, so a rule meant for one kind must never
	// reach the other.
	kindOK := func(path string, k RecordKind, what string) {
		switch {
		case k == "":
			add(path, "required: lead or opportunity (%s; a rule without a kind would reach both kinds of record)", what)
		case k != KindLead && k != KindOpportunity:
			add(path, "must be lead or opportunity (got %q)", k)
		}
	}
	for i, ft := range r.FieldTags {
		p := fmt.Sprintf("field_tags[%d]", i)
		kindOK(p+".record", ft.Record, "the kind of record whose field is watched")
		if ft.Field == "" {
			add(p+".field", "required")
		}
		if strings.TrimSpace(ft.Tag) == "" {
			add(p+".tag", "required")
		}
	}
	for i, tf := range r.TagFields {
		p := fmt.Sprintf("tag_fields[%d]", i)
		kindOK(p+".record", tf.Record, "the kind of record whose fields are set")
		if tf.Tag == "" {
			add(p+".tag", "required")
		}
		if len(tf.Set) == 0 {
			add(p+".set", "required: the fields to set")
		}
		for f := range tf.Set {
			if f == "OwnerId" || f == "Owner" {
				add(p+".set."+f, "the owner follows the assigned agent; it cannot be set by a tag")
			}
		}
	}
	for i, tn := range r.TagNotes {
		p := fmt.Sprintf("tag_activities[%d]", i)
		kindOK(p+".record", tn.Record, "the kind of record the activity is posted on")
		if tn.Tag == "" {
			add(p+".tag", "required")
		}
		if tn.ActivityEvent <= 0 {
			add(p+".activity_event", "required: the activity type code")
		}
	}
	for i, c := range r.Campaigns {
		p := fmt.Sprintf("campaigns[%d]", i)
		kindOK(p+".record", c.Record, "the kind of record whose change sends the event")
		if c.Field == "" {
			add(p+".field", "required (ProspectStage for leads; Status or mx_Custom_2 for opportunities)")
		}
		if c.To == "" {
			add(p+".to", "required")
		}
		if !eventPattern.MatchString(c.Event) {
			add(p+".event", "required, without spaces (Flow-builder event names are snake_case)")
		}
		if !haveFlowBuilder {
			add(p, "campaigns need flow_builder.url, account_id and key")
		}
	}
	for schema, src := range r.Form.Prefill {
		if !validPrefill(src) {
			add("form.prefill."+schema, "unknown source %q (use contact.name, contact.email, contact.phone, contact.custom_attributes.X, conversation.custom_attributes.X or agent.email)", src)
		}
	}
	if r.Form.PageLinkTTL == 0 {
		r.Form.PageLinkTTL = Duration(24 * time.Hour)
	}
	if r.Form.AppLinksPerMinute == 0 {
		r.Form.AppLinksPerMinute = DefaultAppLinksPerMinute
	}
	if r.Form.AppLinksPerMinute < 1 || r.Form.AppLinksPerMinute > 6000 {
		add("form.app_links_per_minute", "must be between 1 and 6000 (form links the Dashboard App key may sign a minute)")
	}
	switch r.Form.DateOrder {
	case "":
		r.Form.DateOrder = DateOrderDayFirst
	case DateOrderDayFirst, DateOrderMonthFirst:
	default:
		add("form.date_order", "must be %s (20/12/2026) or %s (12/20/2026) (got %q)", DateOrderDayFirst, DateOrderMonthFirst, r.Form.DateOrder)
	}
	if r.Form.Timezone == "" {
		r.Form.Timezone = DefaultFormTimezone
	} else if _, err := time.LoadLocation(r.Form.Timezone); err != nil || r.Form.Timezone == "Local" {
		add("form.timezone", "must be an IANA time zone such as Asia/Kolkata (got %q)", r.Form.Timezone)
	}
	if cc := r.Phone.DefaultCountryCode; cc != "" {
		d := strings.TrimPrefix(strings.TrimSpace(cc), "+")
		if len(d) < 1 || len(d) > 3 || digits(d) != d || d[0] == '0' {
			add("phone.default_country_code", "must be a country calling code of 1 to 3 digits, such as 91 (got %q)", cc)
		} else {
			r.Phone.DefaultCountryCode = d
		}
	}
	if r.Fuse.MaxActionsPerMinute == 0 {
		r.Fuse.MaxActionsPerMinute = 30
	}
	if r.Fuse.MaxActionsPerMinute < 0 {
		add("fuse.max_actions_per_minute", "must be positive")
	}
	if cyc := r.pingPong(); cyc != "" {
		add("tag_fields", "rules ping-pong: %s", cyc)
	}
}

func validPrefill(src string) bool {
	switch src {
	case "contact.name", "contact.first_name", "contact.last_name", "contact.email", "contact.phone", "agent.email", "conversation.id":
		return true
	}
	for _, p := range []string{"contact.custom_attributes.", "conversation.custom_attributes.", "literal:"} {
		if strings.HasPrefix(src, p) && len(src) > len(p) {
			return true
		}
	}
	return false
}

// pingPong finds a tag whose field update triggers a field rule adding a tag
// whose field update sets the same field to a different value: each side
// would keep undoing the other.
func (r *Rules) pingPong() string {
	sameKind := func(a, b RecordKind) bool { return a == "" || b == "" || a == b }
	for _, a := range r.TagFields {
		for field, v := range a.Set {
			for _, ft := range r.FieldTags {
				if ft.Field != field || (ft.Value != "" && ft.Value != v) || !sameKind(a.Record, ft.Record) {
					continue
				}
				for _, b := range r.TagFields {
					if b.Tag != ft.Tag || !sameKind(b.Record, ft.Record) {
						continue
					}
					if w, ok := b.Set[field]; ok && w != v {
						return fmt.Sprintf("tag %q sets %s=%q, which adds tag %q, which sets %s=%q", a.Tag, field, v, b.Tag, field, w)
					}
				}
			}
		}
	}
	return ""
}

// NormalizeBaseURL turns "api-in21.leadsquared.com" or a URL into a base URL
// without a trailing slash.
func NormalizeBaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("not a host or http(s) URL: %q", s)
	}
	if u.User != nil {
		return "", errors.New("credentials do not belong in the URL")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// CheckOutboundURL refuses a platform base URL lsqbridge must not send
// credentials to: anything but https://, and a host that is a loopback,
// private, link-local or otherwise non-public address (or "localhost").
// With allowLoopback (the sandbox and tests, explicitly), a loopback host is
// accepted over http:// or https://; private addresses never are. Names
// that resolve to such addresses are refused when connecting instead
// (lsqbridge's outbound HTTP client checks every address it dials).
func CheckOutboundURL(base string, allowLoopback bool) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("not a URL: %q", base)
	}
	host := u.Hostname()
	loopback := strings.EqualFold(host, "localhost")
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := PublicAddress(ip, allowLoopback); err != nil {
			return err
		}
		loopback = ip.Unmap().IsLoopback()
	} else if loopback && !allowLoopback {
		return fmt.Errorf("%s is this machine: credentials go to public hosts only", host)
	}
	if u.Scheme != "https" && !(loopback && allowLoopback && u.Scheme == "http") {
		return fmt.Errorf("must be https:// (got %s://): credentials are never sent in clear", u.Scheme)
	}
	return nil
}

// cgnat is the shared address space (RFC 6598), private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// PublicAddress says whether lsqbridge may connect to ip with credentials:
// not loopback (unless allowLoopback), private, link-local (cloud metadata
// services live there), shared, unspecified or multicast.
func PublicAddress(ip netip.Addr, allowLoopback bool) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%s is a loopback address: credentials go to public hosts only", ip)
	case ip.IsPrivate(), cgnat.Contains(ip):
		return fmt.Errorf("%s is a private address: credentials go to public hosts only", ip)
	case !ip.IsGlobalUnicast():
		return fmt.Errorf("%s is not a public unicast address: credentials go to public hosts only", ip)
	}
	return nil
}

// WatchedFields lists the record fields some rule looks at, by kind; only
// these are kept in a link's fields snapshot.
func (r *Rules) WatchedFields(kind RecordKind) []string {
	set := map[string]bool{}
	for _, ft := range r.FieldTags {
		if ft.Record == "" || ft.Record == kind {
			set[ft.Field] = true
		}
	}
	for _, c := range r.Campaigns {
		if c.Record == kind {
			// The customer's phone addresses the Flow-builder event.
			set["Phone"], set["Mobile"] = true, true
			set[c.Field] = true
			for _, f := range c.Data {
				set[f] = true
			}
		}
	}
	for _, tf := range r.TagFields {
		if tf.Record == "" || tf.Record == kind {
			for f := range tf.Set {
				set[f] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// CheckFields checks every field the rules name against LeadSquared's
// metadata: lead fields (LeadsMetaData.Get) and the fields of each
// opportunity type the configuration uses (GetOpportunityTypeMetadata, by
// code). LeadSquared rejects a whole update when one schema name is
// unknown, so a typo here would fail every write of that rule.
func (c *IntegrationConfig) CheckFields(lead []FieldMeta, opportunity map[int][]FieldMeta) error {
	leadSet := map[string]bool{}
	for _, f := range lead {
		leadSet[f.SchemaName] = true
	}
	oppSet := map[string]bool{}
	for _, fs := range opportunity {
		for _, f := range fs {
			oppSet[f.SchemaName] = true
		}
	}
	var errs ConfigErrors
	// Without opportunity types to read (sync.opportunity_types empty means
	// every type), opportunity fields cannot be checked.
	checkOpp := len(opportunity) > 0
	known := func(path, field string, kind RecordKind) {
		ok := false
		switch kind {
		case KindLead:
			ok = leadSet[field]
		case KindOpportunity:
			ok = oppSet[field] || !checkOpp
		default:
			ok = leadSet[field] || oppSet[field] || !checkOpp
		}
		if !ok {
			what := "a LeadSquared lead or opportunity field"
			switch kind {
			case KindLead:
				what = "a LeadSquared lead field"
			case KindOpportunity:
				what = "a field of the configured opportunity types"
			}
			errs = append(errs, &ConfigError{Path: path, Msg: fmt.Sprintf("%q is not %s (schema names are case-sensitive)", field, what)})
		}
	}
	r := &c.Rules
	for i, ft := range r.FieldTags {
		known(fmt.Sprintf("field_tags[%d].field", i), ft.Field, ft.Record)
	}
	for i, tf := range r.TagFields {
		for _, f := range sortedKeys(tf.Set) {
			known(fmt.Sprintf("tag_fields[%d].set.%s", i, f), f, tf.Record)
		}
	}
	for i, cr := range r.Campaigns {
		known(fmt.Sprintf("campaigns[%d].field", i), cr.Field, cr.Record)
		for _, name := range sortedKeys(cr.Data) {
			known(fmt.Sprintf("campaigns[%d].data.%s", i, name), cr.Data[name], cr.Record)
		}
	}
	for _, f := range sortedKeys(r.Sync.TicketFields) {
		known("sync.ticket_fields."+f, f, "")
	}
	if code := r.Form.OpportunityType; code > 0 {
		formSet := map[string]bool{}
		for _, f := range opportunity[code] {
			formSet[f.SchemaName] = true
		}
		for _, f := range sortedKeys(r.Form.Prefill) {
			if !formSet[f] {
				errs = append(errs, &ConfigError{Path: "form.prefill." + f, Msg: fmt.Sprintf("%q is not a field of opportunity type %d", f, code)})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CheckActivities checks the activity type code of every tag_activities
// rule against LeadSquared's activity types (ActivityTypes.Get), as
// CheckFields checks field names: an unknown code fails every post of its
// rule. An opportunity type's code is refused too (opportunities are
// activities in LeadSquared, and ActivityTypes.Get may list them). Whether a
// type may be posted on opportunities is not in that list
// (docs/leadsquared.md), so a rule's record kind is not checked here.
func (c *IntegrationConfig) CheckActivities(types []ActivityType) error {
	known := map[int]string{}
	for _, t := range types {
		known[t.Code] = t.Name
	}
	oppTypes := c.OpportunityTypes()
	var errs ConfigErrors
	for i, tn := range c.Rules.TagNotes {
		path := fmt.Sprintf("tag_activities[%d].activity_event", i)
		switch _, ok := known[tn.ActivityEvent]; {
		case slices.Contains(oppTypes, tn.ActivityEvent):
			errs = append(errs, &ConfigError{Path: path, Msg: fmt.Sprintf("%d is an opportunity type, not an activity type", tn.ActivityEvent)})
		case !ok:
			errs = append(errs, &ConfigError{Path: path, Msg: fmt.Sprintf("%d is not an activity type in LeadSquared "+
				"(Settings > Leads > Activities and Scores lists the codes)", tn.ActivityEvent)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// OpportunityTypes lists the opportunity type codes the configuration uses.
func (c *IntegrationConfig) OpportunityTypes() []int {
	set := map[int]bool{}
	for _, t := range c.Rules.Sync.OpportunityTypes {
		set[t] = true
	}
	if t := c.Rules.Form.OpportunityType; t > 0 {
		set[t] = true
	}
	out := make([]int, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Ints(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
