package leadsquared

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lsqbridge/lsqbridge/service"
)

// Capture's numeric Status and PostDeDupActionPerformed values.
const (
	captureFailed    = "1"
	capturePartial   = "2"
	dedupFoundExists = "3"
)

// CaptureOpportunity creates an opportunity of type c.TypeCode on a lead.
// With c.LeadID the lead is matched by ProspectID (SearchBy ProspectId and
// __UseUserDefinedGuid__); otherwise by c.LeadFields' EmailAddress, then
// Phone, creating the lead when none matches. Without duplicate-detection
// rules LeadSquared creates a new opportunity on every call: look first
// (OpportunitiesOfLead) when retrying. When LeadSquared reports a duplicate,
// Created is false and OpportunityID is the existing one. LeadID is c.LeadID
// or the lead id the answer carries, else the one GetOpportunity reads back
// ("" only when that read fails).
func (c *Client) CaptureOpportunity(ctx context.Context, oc service.OpportunityCapture) (service.CaptureResult, error) {
	const op = "Capture"
	var lead []attribute
	switch {
	case oc.LeadID != "":
		lead = []attribute{
			{Attribute: "ProspectID", Value: oc.LeadID},
			{Attribute: "SearchBy", Value: "ProspectId"},
			{Attribute: "__UseUserDefinedGuid__", Value: "true"},
		}
	case oc.LeadFields["EmailAddress"] != "":
		lead = append(attributes(oc.LeadFields), attribute{Attribute: "SearchBy", Value: "EmailAddress"})
	case oc.LeadFields["Phone"] != "":
		lead = append(attributes(oc.LeadFields), attribute{Attribute: "SearchBy", Value: "Phone"})
	default:
		return service.CaptureResult{}, invalid(op, "need a lead id, EmailAddress or Phone")
	}
	if oc.TypeCode <= 0 {
		return service.CaptureResult{}, invalid(op, "need an opportunity type code")
	}
	opp := map[string]any{
		"OpportunityEventCode": oc.TypeCode,
		"Fields":               schemaValues(oc.Fields),
	}
	if oc.Note != "" {
		opp["OpportunityNote"] = oc.Note
	}

	var resp map[string]any
	err := c.do(ctx, request{
		op: op, method: http.MethodPost,
		path:   "OpportunityManagement.svc/Capture",
		create: true,
		body:   map[string]any{"LeadDetails": lead, "Opportunity": opp},
	}, &resp)
	if err != nil {
		return service.CaptureResult{}, err
	}
	if str(resp["Status"]) == captureFailed {
		msg := cmp.Or(str(resp["ExceptionMessage"]), str(resp["Message"]), "capture failed")
		return service.CaptureResult{}, newAPIError(op, http.StatusOK, nil, str(resp["ExceptionType"]), c.redact(msg))
	}
	if str(resp["Status"]) == capturePartial {
		// Part of the capture happened: whether the opportunity exists is
		// unknown, so the caller must look before capturing again.
		msg := cmp.Or(str(resp["ExceptionMessage"]), str(resp["Message"]), "capture partly failed")
		return service.CaptureResult{}, uncertainCreate(newAPIError(op, http.StatusBadGateway, nil, "", c.redact(msg)))
	}

	res := service.CaptureResult{LeadID: oc.LeadID, Created: true}
	res.OpportunityID = str(resp["CreatedOpportunityId"])
	res.LeadID = cmp.Or(res.LeadID, str(resp["RelatedProspectId"]), str(resp["ProspectId"]))
	if details, ok := resp["AdditionalDetails"].([]any); ok {
		for _, d := range details {
			m, ok := d.(map[string]any)
			if !ok {
				continue
			}
			if str(m["PostDeDupActionPerformed"]) == dedupFoundExists {
				res.Created = false
				res.OpportunityID = cmp.Or(str(m["ConflictedOpportunityId"]), res.OpportunityID)
			}
			res.OpportunityID = cmp.Or(res.OpportunityID, str(m["ActivityId"]))
			res.LeadID = cmp.Or(res.LeadID, str(m["RelatedProspectId"]), str(m["ProspectId"]))
		}
	}
	if res.OpportunityID == "" {
		return service.CaptureResult{}, unusable(op, http.StatusOK, "answer carries no opportunity id")
	}
	if res.LeadID == "" {
		// Matched by e-mail or phone and the answer does not say which lead:
		// read it back. The opportunity exists either way, so a failed read
		// leaves LeadID empty rather than failing the capture.
		if rec, err := c.GetOpportunity(ctx, res.OpportunityID); err == nil {
			res.LeadID = rec.LeadID
		}
	}
	return res, nil
}

// UpdateOpportunity sets fields (schema name → value) on an opportunity;
// only the fields sent change. LeadSquared fires its opportunity webhooks for
// this write, so the caller must expect the echo.
func (c *Client) UpdateOpportunity(ctx context.Context, id string, fields map[string]string) error {
	const op = "Opportunity.Update"
	if id == "" {
		return invalid(op, "empty opportunity id")
	}
	return c.do(ctx, request{
		op: op, method: http.MethodPost,
		path: "OpportunityManagement.svc/Update",
		body: map[string]any{"ProspectOpportunityId": id, "Fields": schemaValues(fields)},
	}, &successMessage{})
}

// GetOpportunity returns one opportunity (GetOpportunityDetails). Its
// Fields[] become Record.Fields; Owner is the owner and RelatedProspectId the lead.
func (c *Client) GetOpportunity(ctx context.Context, id string) (service.Record, error) {
	const op = "GetOpportunityDetails"
	var resp map[string]any
	err := c.do(ctx, request{
		op: op, method: http.MethodGet,
		path:  "OpportunityManagement.svc/GetOpportunityDetails",
		query: url.Values{"OpportunityId": {id}, "getFileURL": {"false"}},
	}, &resp)
	if err != nil {
		return service.Record{}, err
	}
	list, _ := resp["Fields"].([]any)
	if len(list) == 0 {
		return service.Record{}, notFound(op, "opportunity")
	}
	fields := make(map[string]string, len(list)+4)
	// Top-level scalars first, so Fields[] wins on a clash.
	for k, v := range resp {
		switch v.(type) {
		case map[string]any, []any:
		default:
			if k != "ID" && k != "Name" && k != "DisplayName" {
				fields[k] = str(v)
			}
		}
	}
	for _, f := range list {
		if m, ok := f.(map[string]any); ok {
			if name := str(m["SchemaName"]); name != "" {
				fields[name] = str(m["Value"])
			}
		}
	}
	if fields["OpportunityId"] == "" {
		fields["OpportunityId"] = id
	}
	rec := opportunityRecord(fields)
	if rec.OpportunityType == 0 {
		rec.OpportunityType, _ = strconv.Atoi(str(resp["EventCode"]))
	}
	return rec, nil
}

// opportunityPageSize is the page size of GetOpportunitiesOfLead.
const opportunityPageSize = 100

// OpportunitiesOfLead returns the lead's opportunities of type typeCode
// (LeadSquared effectively requires the type). The list is flat: each item
// carries OpportunityId, RelatedProspectId, Status, Owner, mx_Custom_N….
func (c *Client) OpportunitiesOfLead(ctx context.Context, leadID string, typeCode int) ([]service.Record, error) {
	const op = "GetOpportunitiesOfLead"
	var out []service.Record
	for page := 1; page <= maxPages; page++ {
		var resp struct {
			RecordCount json.Number      `json:"RecordCount"`
			List        []map[string]any `json:"List"`
		}
		err := c.do(ctx, request{
			op: op, method: http.MethodPost,
			path:  "OpportunityManagement.svc/GetOpportunitiesOfLead",
			query: url.Values{"leadId": {leadID}, "opportunityType": {strconv.Itoa(typeCode)}},
			body:  map[string]any{"Paging": map[string]int{"PageIndex": page, "PageSize": opportunityPageSize}},
		}, &resp)
		if err != nil {
			return nil, err
		}
		for _, item := range resp.List {
			rec := opportunityRecord(flatStrings(item))
			if rec.ID == "" {
				continue
			}
			rec.LeadID = cmp.Or(rec.LeadID, leadID)
			if rec.OpportunityType == 0 {
				rec.OpportunityType = typeCode
			}
			out = append(out, rec)
		}
		if len(resp.List) < opportunityPageSize {
			break
		}
	}
	return out, nil
}

// OpportunityTypeMetadata returns the fields of opportunity type code. Its
// OptionSet is a JSON string; data types are mapped to the canonical names;
// Status always offers Open/Won/Lost even when its OptionSet is empty.
func (c *Client) OpportunityTypeMetadata(ctx context.Context, code int) ([]service.FieldMeta, error) {
	var resp struct {
		Fields []map[string]any `json:"Fields"`
	}
	err := c.do(ctx, request{
		op: "GetOpportunityTypeMetadata", method: http.MethodGet,
		path:  "OpportunityManagement.svc/GetOpportunityTypeMetadata",
		query: url.Values{"code": {strconv.Itoa(code)}},
	}, &resp)
	if err != nil {
		return nil, err
	}
	out := make([]service.FieldMeta, 0, len(resp.Fields))
	for _, it := range resp.Fields {
		m := fieldMeta(it, "OptionSet")
		if m.SchemaName == "" {
			continue
		}
		if m.SchemaName == "Status" {
			m.DataType = "Select"
			if len(m.Options) == 0 {
				m.Options = []string{"Open", "Won", "Lost"}
			}
		}
		out = append(out, m)
	}
	return out, nil
}
