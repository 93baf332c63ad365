package leadsquared

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lsqbridge/lsqbridge/service"
)

// PostLeadActivity posts activity a (type a.EventCode) on a lead and returns
// the new ProspectActivityId. a.DateTime is sent in UTC when set.
func (c *Client) PostLeadActivity(ctx context.Context, leadID string, a service.Activity) (string, error) {
	const op = "ProspectActivity.Create"
	if leadID == "" || a.EventCode <= 0 {
		return "", invalid(op, "need a lead id and an activity event code")
	}
	body := map[string]any{
		"RelatedProspectId": leadID,
		"ActivityEvent":     a.EventCode,
		"ActivityNote":      a.Note,
	}
	if !a.DateTime.IsZero() {
		body["ActivityDateTime"] = FormatTime(a.DateTime)
	}
	if len(a.Fields) > 0 {
		body["Fields"] = schemaValues(a.Fields)
	}
	var out successMessage
	if err := c.do(ctx, request{
		op: op, method: http.MethodPost,
		path:   "ProspectActivity.svc/Create",
		create: true,
		body:   body,
	}, &out); err != nil {
		return "", err
	}
	if out.Message.Id == "" {
		return "", unusable(op, http.StatusOK, "answer carries no activity id")
	}
	return out.Message.Id, nil
}

// PostOpportunityActivity posts activity a on an opportunity through the bulk
// endpoint with a one-item array (LeadSquared has no single-item one).
// a.OwnerEmail is mandatory there; an empty one is refused before sending.
func (c *Client) PostOpportunityActivity(ctx context.Context, opportunityID string, a service.Activity) (string, error) {
	const op = "CustomActivity.AddByOpportunityId"
	if opportunityID == "" || a.EventCode <= 0 {
		return "", invalid(op, "need an opportunity id and an activity event code")
	}
	if a.OwnerEmail == "" {
		return "", invalid(op, "ActivityOwnerEmail is mandatory for opportunity activities")
	}
	item := map[string]any{
		"ActivityEvent":      a.EventCode,
		"ActivityNote":       a.Note,
		"ActivityOwnerEmail": a.OwnerEmail,
	}
	if !a.DateTime.IsZero() {
		item["ActivityDateTime"] = FormatTime(a.DateTime)
	}
	if len(a.Fields) > 0 {
		item["Fields"] = schemaValues(a.Fields)
	}
	var resp map[string]any
	if err := c.do(ctx, request{
		op: op, method: http.MethodPost,
		path:   "ProspectActivity.svc/Bulk/CustomActivity/Add/ByOpportunityId",
		create: true,
		query:  url.Values{"opportunityId": {opportunityID}},
		body:   []any{item},
	}, &resp); err != nil {
		return "", err
	}
	// {"Response":[{"ProspectActivityId":…}]} like the lead bulk call; an
	// item may carry its own failure.
	if items, ok := resp["Response"].([]any); ok && len(items) > 0 {
		if m, ok := items[0].(map[string]any); ok {
			if id := cmp.Or(str(m["ProspectActivityId"]), str(m["Id"]), str(m["ActivityId"])); id != "" {
				return id, nil
			}
			msg := cmp.Or(str(m["ExceptionMessage"]), str(m["Message"]), "activity not created")
			return "", newAPIError(op, http.StatusOK, nil, str(m["ExceptionType"]), c.redact(msg))
		}
	}
	if msg, ok := resp["Message"].(map[string]any); ok {
		if id := str(msg["Id"]); id != "" {
			return id, nil
		}
	}
	return "", unusable(op, http.StatusOK, "answer carries no activity id")
}

// activityPageSize is the RowCount of ProspectActivity Retrieve.
const activityPageSize = 100

// LeadActivities returns the lead's activities of type eventCode (every type
// when 0). In this answer Data is an array of {Key,Value}; the note is the
// ActivityEvent_Note (or Note) key.
func (c *Client) LeadActivities(ctx context.Context, leadID string, eventCode int) ([]service.Activity, error) {
	const op = "ProspectActivity.Retrieve"
	var out []service.Activity
	for page := 0; page < maxPages; page++ {
		param := map[string]any{}
		if eventCode != 0 {
			param["ActivityEvent"] = eventCode
		}
		var resp struct {
			ProspectActivities []map[string]any `json:"ProspectActivities"`
		}
		err := c.do(ctx, request{
			op: op, method: http.MethodPost,
			path:  "ProspectActivity.svc/Retrieve",
			query: url.Values{"leadId": {leadID}},
			body: map[string]any{
				"Parameter": param,
				"Paging": map[string]string{
					"Offset":   strconv.Itoa(page * activityPageSize),
					"RowCount": strconv.Itoa(activityPageSize),
				},
			},
		}, &resp)
		if err != nil {
			return nil, err
		}
		for _, item := range resp.ProspectActivities {
			out = append(out, activityFromRetrieve(item))
		}
		if len(resp.ProspectActivities) < activityPageSize {
			break
		}
	}
	return out, nil
}

// activityFromRetrieve reads one ProspectActivities item: Data [{Key,Value}]
// (or an object, as webhooks send it) and ActivityFields {…}.
func activityFromRetrieve(item map[string]any) service.Activity {
	fields := map[string]string{}
	if af, ok := item["ActivityFields"].(map[string]any); ok {
		for k, v := range af {
			fields[k] = str(v)
		}
	}
	switch data := item["Data"].(type) {
	case []any:
		for _, kv := range data {
			if m, ok := kv.(map[string]any); ok {
				if k := str(m["Key"]); k != "" {
					fields[k] = str(m["Value"])
				}
			}
		}
	case map[string]any:
		for k, v := range data {
			fields[k] = str(v)
		}
	}
	code, _ := strconv.Atoi(str(item["EventCode"]))
	a := service.Activity{
		ID:         cmp.Or(str(item["Id"]), str(item["ProspectActivityId"])),
		EventCode:  code,
		Note:       cmp.Or(fields["ActivityEvent_Note"], fields["Note"], str(item["ActivityNote"])),
		OwnerEmail: cmp.Or(fields["ActivityOwnerEmail"], fields["OwnerEmailAddress"]),
		DateTime:   parseOrZero(cmp.Or(str(item["ActivityDateTime"]), str(item["CreatedOn"]))),
		Fields:     fields,
	}
	return a
}

// ActivityTypes lists the org's activity types (ProspectActivity.svc/
// ActivityTypes.Get): a JSON array of {"ActivityEvent" (the code),
// "ActivityEventName", "DisplayName", …}. The list does not say which types
// may be posted on opportunities (docs/leadsquared.md).
func (c *Client) ActivityTypes(ctx context.Context) ([]service.ActivityType, error) {
	var items []map[string]any
	if err := c.do(ctx, request{
		op: "ActivityTypes.Get", method: http.MethodGet,
		path: "ProspectActivity.svc/ActivityTypes.Get",
	}, &items); err != nil {
		return nil, err
	}
	out := make([]service.ActivityType, 0, len(items))
	for _, it := range items {
		if t, ok := activityType(it); ok {
			out = append(out, t)
		}
	}
	return out, nil
}
