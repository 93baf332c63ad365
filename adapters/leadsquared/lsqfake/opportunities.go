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

// systemOppFields are stored on every opportunity but are not in the type's fields.
var systemOppFields = []string{"OpportunityId", "RelatedProspectId", "OpportunityEventCode",
	"CreatedOn", "CreatedBy", "ModifiedOn", "ModifiedBy"}

// stageKeys change an opportunity's stage: Status and the Stage dropdown.
var stageKeys = []string{"Status", "mx_Custom_2"}

// oppField finds an opportunity field's metadata.
func (f *Fake) oppField(name string) *service.FieldMeta {
	for i := range f.oppMeta {
		if f.oppMeta[i].SchemaName == name {
			return &f.oppMeta[i]
		}
	}
	return nil
}

// validateOpp checks opportunity fields: unknown names reject the payload,
// mandatory fields must be present (on create) and never emptied, Status
// only takes Open/Won/Lost (a stage value there fails), Owner must be an
// active user, numbers and dates must parse. Other dropdowns store any value.
func (f *Fake) validateOpp(fields map[string]string, creating bool) *reply {
	var unknown []string
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if f.oppField(name) == nil {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		r := f.mxError("MXInvalidInputException", "Attribute(s) does not exist - %s", strings.Join(unknown, ","))
		return &r
	}
	var missing []string
	for _, m := range f.oppMeta {
		v, set := fields[m.SchemaName]
		if m.Required && ((creating && v == "") || (!creating && set && v == "")) {
			missing = append(missing, m.DisplayName)
		}
	}
	if len(missing) > 0 {
		r := f.mxError("MXInvalidActivityFieldsException", "Mandatory field(s) missing - %s", strings.Join(missing, ","))
		return &r
	}
	for name, v := range fields {
		m := f.oppField(name)
		if v == "" {
			continue
		}
		if name == "Status" && !slices.Contains(m.Options, v) {
			r := f.mxError("MXInvalidActivityFieldsException", "Invalid value for Status: %s", v)
			return &r
		}
		if badValue(m.DataType, v) {
			r := f.mxError("MXInvalidDataTypeException", "Invalid value for %s", m.DisplayName)
			return &r
		}
	}
	if owner := fields["Owner"]; owner != "" {
		if u := f.userByID(owner); u == nil || !u.Active {
			r := f.mxError("MXInvalidInputException", "Invalid Owner")
			return &r
		}
	}
	return nil
}

// createOppLocked stores a validated opportunity on lead l, posts the
// "opportunity captured" activity on the lead and fires opportunity-created.
func (f *Fake) createOppLocked(leadID string, fields map[string]string, note, actor string) *record {
	now := f.stamp(time.Time{})
	id := f.newID(prefixOpp)
	o := &record{fields: map[string]string{}, modified: now, lastModified: now}
	maps.Copy(o.fields, fields)
	o.fields["OpportunityId"] = id
	o.fields["RelatedProspectId"] = leadID
	o.fields["OpportunityEventCode"] = strconv.Itoa(f.opts.OpportunityType)
	o.fields["CreatedOn"] = now.Format(apiLayout)
	o.fields["CreatedBy"] = actor
	o.fields["ModifiedOn"] = now.Format(apiLayout)
	o.fields["ModifiedBy"] = actor
	f.opps[id] = o
	f.oppOrder = append(f.oppOrder, id)
	// The opportunity is itself an activity of its type on the lead.
	f.activities[leadID] = append(f.activities[leadID], activity{
		ID: id, LeadID: leadID, EventCode: f.opts.OpportunityType,
		Note: cmp.Or(note, "Opportunity captured: "+fields["mx_Custom_1"]), Created: now, Fields: map[string]string{},
	})
	f.touchRelated(leadID)
	f.fire("opportunity-created", f.oppView(o, true))
	return o
}

// updateOppLocked applies validated fields and fires opportunity-updated
// (and opportunity-stage-changed when Status or the Stage changed).
func (f *Fake) updateOppLocked(o *record, fields map[string]string, actor string) {
	before := f.oppView(o, true)
	maps.Copy(o.fields, fields)
	o.modified = f.stamp(o.modified)
	o.fields["ModifiedOn"] = o.modified.Format(apiLayout)
	o.fields["ModifiedBy"] = actor
	f.touchRelated(o.fields["RelatedProspectId"])
	f.fireChange("opportunity", before, f.oppView(o, true), nil, stageKeys)
}

// oppView is the flat opportunity of lists and webhooks; the type code is a
// JSON number there.
func (f *Fake) oppView(o *record, forWebhook bool) map[string]any {
	out := make(map[string]any, len(o.fields))
	for k, v := range o.fields {
		out[k] = v
	}
	if code, err := strconv.Atoi(o.fields["OpportunityEventCode"]); err == nil {
		out["OpportunityEventCode"] = code
	}
	if forWebhook {
		f.hookDates(out)
	}
	return out
}

// captureRequest is the body of OpportunityManagement.svc/Capture.
type captureRequest struct {
	LeadDetails json.RawMessage
	Opportunity struct {
		OpportunityEventCode json.Number
		OpportunityNote      string
		UpdateEmptyFields    bool
		OverwriteFields      bool
		Fields               json.RawMessage
	}
}

// handleCapture answers Capture: find (or create) the lead by SearchBy, then
// create a new opportunity — every call, unless duplicate detection is on.
func (f *Fake) handleCapture(_ url.Values, body []byte) reply {
	var req captureRequest
	if json.Unmarshal(body, &req) != nil {
		return reply{400, errorBody("", "Invalid request body")}
	}
	if req.Opportunity.UpdateEmptyFields && req.Opportunity.OverwriteFields {
		return f.mxError("MXInvalidInputException", "OverwriteFields and UpdateEmptyFields both cannot be true")
	}
	leadPairs, ok1 := decodePairs(req.LeadDetails)
	oppPairs, ok2 := decodePairs(req.Opportunity.Fields)
	if !ok1 || (!ok2 && len(req.Opportunity.Fields) > 0) {
		return reply{400, errorBody("", "Invalid request body")}
	}
	if code, err := req.Opportunity.OpportunityEventCode.Int64(); err != nil || int(code) != f.opts.OpportunityType {
		return f.mxError("MXInvalidInputException", "Invalid Opportunity Type")
	}
	oppFields := pairMap(oppPairs)
	if r := f.validateOpp(oppFields, true); r != nil {
		return *r
	}

	lead := pairMap(leadPairs)
	searchBy := lead["SearchBy"]
	useGUID := strings.EqualFold(lead["__UseUserDefinedGuid__"], "true")
	delete(lead, "SearchBy")
	delete(lead, "__UseUserDefinedGuid__")
	prospectID := cmp.Or(lead["ProspectID"], lead["ProspectId"])
	delete(lead, "ProspectID")
	delete(lead, "ProspectId")

	var l *record
	switch strings.ToLower(searchBy) {
	case "prospectid":
		l = f.leads[prospectID]
		if l == nil && !useGUID {
			return f.mxError("MXInvalidInputException", "Lead does not exist")
		}
	case "emailaddress":
		l = f.findLead(func(r *record) bool {
			return lead["EmailAddress"] != "" && strings.EqualFold(r.fields["EmailAddress"], lead["EmailAddress"])
		})
	case "phone":
		l = f.findLead(func(r *record) bool { return lead["Phone"] != "" && r.fields["Phone"] == lead["Phone"] })
	case "":
		l = f.findLead(func(r *record) bool {
			return lead["EmailAddress"] != "" && strings.EqualFold(r.fields["EmailAddress"], lead["EmailAddress"])
		})
		if l == nil {
			l = f.findLead(func(r *record) bool { return lead["Phone"] != "" && r.fields["Phone"] == lead["Phone"] })
		}
	default:
		return f.mxError("MXInvalidInputException", "Invalid SearchBy value provided")
	}
	if l == nil {
		if r := f.validateLead(lead, "", true); r != nil {
			return *r
		}
		id := ""
		if useGUID {
			id = prospectID
		}
		l = f.createLeadLocked(id, lead, f.apiUser)
	}
	leadID := l.fields["ProspectID"]

	if f.opts.OpportunityDuplicateDetection {
		for _, oid := range f.oppOrder {
			o := f.opps[oid]
			if o.fields["RelatedProspectId"] == leadID && o.fields["Status"] == "Open" {
				return ok(map[string]any{
					"Status": 0, "CreatedOpportunityId": nil, "IsUnique": false,
					"AdditionalDetails": []map[string]any{{
						"ActivityId": nil, "PostDeDupActionPerformed": 3, "ConflictedOpportunityId": oid,
					}},
				})
			}
		}
	}
	o := f.createOppLocked(leadID, oppFields, req.Opportunity.OpportunityNote, f.apiUser)
	id := o.fields["OpportunityId"]
	return ok(map[string]any{
		"Status": 0, "CreatedOpportunityId": id, "IsUnique": true,
		"AdditionalDetails": []map[string]any{{
			"ActivityId": id, "PostDeDupActionPerformed": 1, "ConflictedOpportunityId": nil,
		}},
	})
}

// findLead returns the first lead matching.
func (f *Fake) findLead(match func(*record) bool) *record {
	for _, id := range f.leadOrder {
		if l := f.leads[id]; match(l) {
			return l
		}
	}
	return nil
}

// handleUpdateOpp answers Update. Unlike Lead.Update, it fires webhooks.
func (f *Fake) handleUpdateOpp(_ url.Values, body []byte) reply {
	var req struct {
		ProspectOpportunityId string
		OpportunityNote       string
		Fields                json.RawMessage
	}
	if json.Unmarshal(body, &req) != nil {
		return reply{400, errorBody("", "Invalid request body")}
	}
	o := f.opps[req.ProspectOpportunityId]
	if o == nil {
		return f.mxError("MXInvalidInputException", "Invalid ProspectOpportunityId")
	}
	pairs, ok := decodePairs(req.Fields)
	if !ok {
		return reply{400, errorBody("", "Invalid request body")}
	}
	fields := pairMap(pairs)
	if r := f.validateOpp(fields, false); r != nil {
		return *r
	}
	f.updateOppLocked(o, fields, f.apiUser)
	return success(map[string]any{"Id": req.ProspectOpportunityId})
}

// handleGetOpp answers GetOpportunityDetails: the type's fields with values,
// then the system fields, as a Fields[] array.
func (f *Fake) handleGetOpp(q url.Values, _ []byte) reply {
	id := param(q, "OpportunityId")
	o := f.opps[id]
	if o == nil {
		return f.mxError("MXInvalidInputException", "Invalid OpportunityId")
	}
	fields := make([]map[string]any, 0, len(f.oppMeta)+len(systemOppFields))
	for i, m := range f.oppMeta {
		item := oppFieldItem(m, i)
		item["Value"] = o.fields[m.SchemaName]
		fields = append(fields, item)
	}
	for _, name := range systemOppFields {
		fields = append(fields, map[string]any{
			"SchemaName": name, "DisplayName": name, "Value": o.fields[name], "DataType": "String",
			"IsMandatory": false, "OptionSet": "", "ParentField": "", "IsReadOnly": true, "MaxFieldLength": "200",
		})
	}
	return ok(map[string]any{"ID": id, "Name": o.fields["mx_Custom_1"], "DisplayName": f.opts.OpportunityTypeName, "Fields": fields})
}

// oppListItem keeps the columns GetOpportunitiesOfLead's flat List shows
// (the reference: OpportunityId, RelatedProspectId, Status, Owner,
// mx_Custom_N, ModifiedOn, and the type code): not CreatedOn, CreatedBy or
// ModifiedBy, which only GetOpportunityDetails gives.
func oppListItem(view map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range view {
		switch {
		case k == "OpportunityId", k == "RelatedProspectId", k == "OpportunityEventCode", k == "Status", k == "Owner",
			k == "ModifiedOn", strings.HasPrefix(k, "mx_"):
			out[k] = v
		}
	}
	return out
}

// handleOppsOfLead answers GetOpportunitiesOfLead?leadId=&opportunityType=
// with a flat List, oldest first, paged by the optional body's Paging.
func (f *Fake) handleOppsOfLead(q url.Values, body []byte) reply {
	leadID := param(q, "leadId")
	code, err := strconv.Atoi(param(q, "opportunityType"))
	if err != nil {
		return f.mxError("MXInvalidInputException", "opportunityType is required")
	}
	var req struct {
		Paging struct{ PageIndex, PageSize int }
	}
	if len(strings.TrimSpace(string(body))) > 0 && json.Unmarshal(body, &req) != nil {
		return reply{400, errorBody("", "Invalid request body")}
	}
	size := cmpInt(req.Paging.PageSize, 100)
	page := cmpInt(req.Paging.PageIndex, 1)
	var list []map[string]any
	for _, id := range f.oppOrder {
		o := f.opps[id]
		if o.fields["RelatedProspectId"] == leadID && o.fields["OpportunityEventCode"] == strconv.Itoa(code) {
			list = append(list, oppListItem(f.oppView(o, false)))
		}
	}
	total := len(list)
	start := min(max(page-1, 0)*size, total)
	end := min(start+max(size, 0), total)
	return ok(map[string]any{"RecordCount": total, "List": append([]map[string]any{}, list[start:end]...)})
}
