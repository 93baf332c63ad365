package lsqfake

import (
	"cmp"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// systemLeadFields may be written though they are not in the metadata.
var systemLeadFields = map[string]bool{
	"OwnerId": true, "Source": true, "SourceMedium": true, "SourceCampaign": true, "Origin": true,
	"Company": true, "Notes": true, "DoNotEmail": true, "DoNotCall": true,
}

// readOnlyLeadFields are set by LeadSquared itself.
var readOnlyLeadFields = map[string]bool{
	"ProspectID": true, "ProspectAutoId": true, "CreatedOn": true, "CreatedBy": true,
	"ModifiedOn": true, "ModifiedBy": true, "LastModifiedOn": true, "OwnerIdName": true, "OwnerIdEmailAddress": true,
}

// pair is a decoded {"Attribute"|"SchemaName", "Value"} with the value as a string.
type pair struct {
	name, value string
}

// decodePairs reads an Attribute/Value (or SchemaName/Value) array; values of
// any JSON type are kept as their string form, as LeadSquared stores them.
func decodePairs(raw json.RawMessage) ([]pair, bool) {
	var items []map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&items); err != nil {
		return nil, false
	}
	out := make([]pair, 0, len(items))
	for _, it := range items {
		name, _ := it["Attribute"].(string)
		if name == "" {
			name, _ = it["SchemaName"].(string)
		}
		if name == "" {
			return nil, false
		}
		out = append(out, pair{name, valueString(it["Value"])})
	}
	return out, true
}

// valueString renders a JSON value as the string LeadSquared would store.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// validateLead checks lead fields like LeadSquared: unknown schema names
// reject the whole payload, types are checked, the owner must be an active
// user, EmailAddress and Phone must be unique (Phone as the exact string).
// self is the lead being updated ("" on create).
func (f *Fake) validateLead(fields map[string]string, self string, creating bool) *reply {
	var unknown []string
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if readOnlyLeadFields[name] || (!systemLeadFields[name] && f.leadField(name) == nil) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		r := f.mxError("MXInvalidInputException", "Attribute(s) does not exist - %s", strings.Join(unknown, ","))
		return &r
	}
	for name, v := range fields {
		m := f.leadField(name)
		if m == nil || v == "" {
			continue
		}
		if bad := badValue(m.DataType, v); bad {
			r := f.mxError("MXInvalidDataTypeException", "Invalid value for %s", m.DisplayName)
			return &r
		}
	}
	if owner, set := fields["OwnerId"]; set {
		if u := f.userByID(owner); u == nil || !u.Active {
			r := f.mxError("MXInvalidInputException", "Invalid OwnerId")
			return &r
		}
	}
	if creating && fields["FirstName"] == "" && fields["LastName"] == "" && fields["EmailAddress"] == "" && fields["Phone"] == "" {
		r := f.mxError("MXMandatoryAttributeMissingException", "Lead must have at least one of First Name, Last Name, Email or Phone")
		return &r
	}
	for id, l := range f.leads {
		if id == self {
			continue
		}
		if (fields["EmailAddress"] != "" && strings.EqualFold(l.fields["EmailAddress"], fields["EmailAddress"])) ||
			(fields["Phone"] != "" && l.fields["Phone"] == fields["Phone"]) {
			r := f.mxError("MXDuplicateEntryException", "A Lead with same Email/Phone Number already exists.")
			return &r
		}
	}
	return nil
}

// badValue reports whether v is not a valid value of a canonical data type.
func badValue(dataType, v string) bool {
	switch dataType {
	case "Number":
		_, err := strconv.ParseFloat(v, 64)
		return err != nil
	case "Date":
		_, e1 := time.Parse("2006-01-02", v)
		_, e2 := time.Parse(requestLayout, v)
		return e1 != nil && e2 != nil
	case "DateTime":
		// LeadSquared's request layout, UTC: "2026-12-20 09:30:00".
		_, err := time.Parse(requestLayout, v)
		return err != nil
	case "Email":
		return !strings.Contains(v, "@")
	case "Boolean":
		switch strings.ToLower(v) {
		case "true", "false", "1", "0":
			return false
		}
		return true
	}
	return false
}

// leadField finds a lead field's metadata.
func (f *Fake) leadField(name string) *service.FieldMeta {
	for i := range f.leadMeta {
		if f.leadMeta[i].SchemaName == name {
			return &f.leadMeta[i]
		}
	}
	return nil
}

// createLeadLocked stores a new lead made by actor (fields already
// validated; id "" means a new GUID) and fires lead-created.
func (f *Fake) createLeadLocked(id string, fields map[string]string, actor string) *record {
	now := f.stamp(time.Time{})
	if id == "" {
		id = f.newID(prefixLead)
	}
	f.autoID++
	l := &record{fields: map[string]string{}, modified: now, lastModified: now}
	maps.Copy(l.fields, fields)
	if l.fields["OwnerId"] == "" {
		l.fields["OwnerId"] = f.person()
	}
	l.fields["ProspectID"] = id
	l.fields["ProspectAutoId"] = strconv.Itoa(f.autoID)
	l.fields["ProspectStage"] = cmp.Or(l.fields["ProspectStage"], "Prospect")
	l.fields["CreatedBy"] = actor
	l.fields["CreatedOn"] = now.Format(apiLayout)
	f.touchLead(l, actor, now)
	f.leads[id] = l
	f.leadOrder = append(f.leadOrder, id)
	f.fire("lead-created", f.leadView(l, true))
	return l
}

// touchLead records a write by actor at t.
func (f *Fake) touchLead(l *record, actor string, t time.Time) {
	l.modified, l.lastModified = t, t
	l.fields["ModifiedBy"] = actor
	l.fields["ModifiedOn"] = t.Format(apiLayout)
	l.fields["LastModifiedOn"] = t.Format(apiLayout)
}

// touchRelated moves a lead's LastModifiedOn (not ModifiedOn) for a change in
// a related table: an activity or an opportunity.
func (f *Fake) touchRelated(leadID string) {
	if l := f.leads[leadID]; l != nil {
		l.lastModified = f.stamp(l.lastModified)
		l.fields["LastModifiedOn"] = l.lastModified.Format(apiLayout)
	}
}

// updateLeadLocked applies validated fields; with notify it fires the
// webhooks a change in the UI fires.
func (f *Fake) updateLeadLocked(l *record, fields map[string]string, actor string, notify bool) {
	before := f.leadView(l, true)
	maps.Copy(l.fields, fields)
	f.touchLead(l, actor, f.stamp(l.modified))
	f.leadUpdates++
	if notify {
		after := f.leadView(l, true)
		f.fireChange("lead", before, after, []string{"OwnerId"}, []string{"ProspectStage"})
	}
}

// leadView is a lead as reads and webhooks show it: every field plus the
// owner's name and e-mail (not in metadata, but always sent).
func (f *Fake) leadView(l *record, forWebhook bool) map[string]any {
	out := make(map[string]any, len(l.fields)+2)
	for k, v := range l.fields {
		out[k] = v
	}
	if u := f.userByID(l.fields["OwnerId"]); u != nil {
		out["OwnerIdName"] = strings.TrimSpace(u.FirstName + " " + u.LastName)
		out["OwnerIdEmailAddress"] = u.Email
	}
	if forWebhook {
		f.hookDates(out)
	}
	return out
}

// hookDates rewrites dates the way webhooks carry them.
func (f *Fake) hookDates(m map[string]any) {
	if f.opts.WebhookMillis {
		return
	}
	for _, k := range []string{"CreatedOn", "ModifiedOn", "LastModifiedOn"} {
		if s, ok := m[k].(string); ok {
			if t, err := time.Parse(apiLayout, s); err == nil {
				m[k] = t.Format(hookLayout)
			}
		}
	}
}

// digits keeps the digits of a phone number.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// leadsWhere returns matching leads, most recently modified first.
func (f *Fake) leadsWhere(match func(*record) bool) []any {
	var found []*record
	for _, id := range f.leadOrder {
		if l := f.leads[id]; match(l) {
			found = append(found, l)
		}
	}
	slices.SortStableFunc(found, func(a, b *record) int { return b.lastModified.Compare(a.lastModified) })
	out := make([]any, 0, len(found))
	for _, l := range found {
		out = append(out, f.leadView(l, false))
	}
	return out
}

// handleGetLead answers Leads.GetById: an array of zero or one lead.
func (f *Fake) handleGetLead(q url.Values, _ []byte) reply {
	id := param(q, "id")
	return ok(f.leadsWhere(func(l *record) bool { return l.fields["ProspectID"] == id }))
}

// handleLeadByEmail answers Leads.GetByEmailaddress.
func (f *Fake) handleLeadByEmail(q url.Values, _ []byte) reply {
	email := param(q, "emailaddress")
	return ok(f.leadsWhere(func(l *record) bool { return email != "" && strings.EqualFold(l.fields["EmailAddress"], email) }))
}

// handleLeadByPhone answers RetrieveLeadByPhoneNumber: Phone or Mobile whose
// digits equal the query's digits.
func (f *Fake) handleLeadByPhone(q url.Values, _ []byte) reply {
	d := digits(param(q, "phone"))
	return ok(f.leadsWhere(func(l *record) bool {
		return d != "" && (digits(l.fields["Phone"]) == d || digits(l.fields["Mobile"]) == d)
	}))
}

// handleCreateLead answers Lead.Create. Leads created through the API fire
// lead-created like any other.
func (f *Fake) handleCreateLead(_ url.Values, body []byte) reply {
	pairs, ok := decodePairs(body)
	if !ok {
		return reply{400, errorBody("", "Invalid request body")}
	}
	fields := pairMap(pairs)
	if r := f.validateLead(fields, "", true); r != nil {
		return *r
	}
	l := f.createLeadLocked("", fields, f.apiUser)
	return success(map[string]any{"Id": l.fields["ProspectID"]})
}

// handleUpdateLead answers Lead.Update?leadId=. Without postUpdatedLead=true
// it fires no webhook at all.
func (f *Fake) handleUpdateLead(q url.Values, body []byte) reply {
	l := f.leads[param(q, "leadId")]
	if l == nil {
		return f.mxError("MXInvalidInputException", "Lead does not exist")
	}
	pairs, ok := decodePairs(body)
	if !ok {
		return reply{400, errorBody("", "Invalid request body")}
	}
	fields := pairMap(pairs)
	if r := f.validateLead(fields, l.fields["ProspectID"], false); r != nil {
		return *r
	}
	f.updateLeadLocked(l, fields, f.apiUser, strings.EqualFold(param(q, "postUpdatedLead"), "true"))
	return success(map[string]any{"AffectedRows": 1})
}

// handleRecentlyModified answers Leads.RecentlyModified: leads whose
// LastModifiedOn lies in [FromDate, ToDate] (UTC, second precision), oldest
// first, as LeadPropertyList arrays, paged by PageIndex/PageSize (≤ 5000).
func (f *Fake) handleRecentlyModified(_ url.Values, body []byte) reply {
	var req struct {
		Parameter struct{ FromDate, ToDate string }
		Paging    struct{ PageIndex, PageSize int }
	}
	if json.Unmarshal(body, &req) != nil {
		return reply{400, errorBody("", "Invalid request body")}
	}
	from, e1 := time.Parse(requestLayout, req.Parameter.FromDate)
	to, e2 := time.Parse(requestLayout, req.Parameter.ToDate)
	if e1 != nil || e2 != nil {
		return f.mxError("MXInvalidInputException", "Invalid FromDate or ToDate")
	}
	size := cmpInt(req.Paging.PageSize, 100)
	page := cmpInt(req.Paging.PageIndex, 1)
	if size < 0 || size > 5000 || page < 1 {
		return f.mxError("MXInvalidInputException", "Invalid Paging")
	}
	var found []*record
	for _, id := range f.leadOrder {
		l := f.leads[id]
		if !l.lastModified.Before(from) && !l.lastModified.After(to) {
			found = append(found, l)
		}
	}
	slices.SortStableFunc(found, func(a, b *record) int { return a.lastModified.Compare(b.lastModified) })
	total := len(found)
	start := min((page-1)*size, total)
	end := min(start+size, total)
	leads := make([]map[string]any, 0, end-start)
	for _, l := range found[start:end] {
		view := f.leadView(l, false)
		props := make([]map[string]any, 0, len(view))
		for _, k := range slices.Sorted(maps.Keys(view)) {
			props = append(props, map[string]any{"Attribute": k, "Value": view[k]})
		}
		leads = append(leads, map[string]any{"LeadPropertyList": props})
	}
	return ok(map[string]any{"RecordCount": total, "Leads": leads})
}

// pairMap turns pairs into a map (the last value of a repeated name wins).
func pairMap(pairs []pair) map[string]string {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		out[p.name] = p.value
	}
	return out
}
