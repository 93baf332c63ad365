package lsqfake

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// activity is a stored activity on a lead or an opportunity.
type activity struct {
	ID            string
	LeadID        string
	OpportunityID string
	EventCode     int
	Note          string
	OwnerEmail    string
	Created       time.Time
	Fields        map[string]string
}

func (a activity) service() service.Activity {
	return service.Activity{ID: a.ID, EventCode: a.EventCode, Note: a.Note, OwnerEmail: a.OwnerEmail,
		DateTime: a.Created, Fields: maps.Clone(a.Fields)}
}

// activityDate reads ActivityDateTime, defaulting to now.
func (f *Fake) activityDate(s string) (time.Time, bool) {
	if s == "" {
		return f.stamp(time.Time{}), true
	}
	t, err := time.Parse(requestLayout, s)
	return t, err == nil
}

// handlePostActivity answers ProspectActivity.svc/Create.
func (f *Fake) handlePostActivity(_ url.Values, body []byte) reply {
	var req struct {
		RelatedProspectId string
		ActivityEvent     json.Number
		ActivityNote      string
		ActivityDateTime  string
		Fields            json.RawMessage
	}
	if json.Unmarshal(body, &req) != nil {
		return reply{400, errorBody("", "Invalid request body")}
	}
	if f.leads[req.RelatedProspectId] == nil {
		return f.mxError("MXInvalidInputException", "Lead does not exist")
	}
	a, rep := f.newActivity(req.ActivityEvent, req.ActivityNote, req.ActivityDateTime, req.Fields)
	if rep != nil {
		return *rep
	}
	a.LeadID = req.RelatedProspectId
	f.activities[a.LeadID] = append(f.activities[a.LeadID], a)
	f.touchRelated(a.LeadID)
	return success(map[string]any{"Id": a.ID})
}

// newActivity validates the common activity parts.
func (f *Fake) newActivity(event json.Number, note, when string, rawFields json.RawMessage) (activity, *reply) {
	code, err := strconv.Atoi(event.String())
	if _, known := f.activityTypes[code]; err != nil || !known {
		r := f.mxError("MXInvalidInputException", "Invalid ActivityEvent")
		return activity{}, &r
	}
	t, okDate := f.activityDate(when)
	if !okDate {
		r := f.mxError("MXInvalidDataTypeException", "Invalid ActivityDateTime")
		return activity{}, &r
	}
	fields := map[string]string{}
	if len(rawFields) > 0 && string(rawFields) != "null" {
		pairs, ok := decodePairs(rawFields)
		if !ok {
			r := reply{400, errorBody("", "Invalid request body")}
			return activity{}, &r
		}
		fields = pairMap(pairs)
	}
	return activity{ID: f.newID(prefixActivity), EventCode: code, Note: note, Created: t, Fields: fields}, nil
}

// handlePostOppActivities answers Bulk/CustomActivity/Add/ByOpportunityId:
// at most 25 items; ActivityOwnerEmail is mandatory per item and must be a
// user's. The answer lists one result per item.
func (f *Fake) handlePostOppActivities(q url.Values, body []byte) reply {
	o := f.opps[param(q, "opportunityId")]
	if o == nil {
		return f.mxError("MXInvalidInputException", "Invalid opportunityId")
	}
	var items []struct {
		ActivityEvent      json.Number
		ActivityNote       string
		ActivityOwnerEmail string
		ActivityDateTime   string
		Fields             json.RawMessage
	}
	if json.Unmarshal(body, &items) != nil {
		return reply{400, errorBody("", "Invalid request body")}
	}
	if len(items) == 0 || len(items) > 25 {
		return f.mxError("MXInvalidInputException", "Between 1 and 25 activities can be posted")
	}
	results := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if strings.TrimSpace(it.ActivityOwnerEmail) == "" || f.userByEmail(it.ActivityOwnerEmail) == nil {
			results = append(results, errorBody("MXInvalidActivityFieldsException", "ActivityOwnerEmail is mandatory"))
			continue
		}
		a, rep := f.newActivity(it.ActivityEvent, it.ActivityNote, it.ActivityDateTime, it.Fields)
		if rep != nil {
			m, _ := rep.body.(map[string]any)
			results = append(results, m)
			continue
		}
		a.LeadID = o.fields["RelatedProspectId"]
		a.OpportunityID = o.fields["OpportunityId"]
		a.OwnerEmail = it.ActivityOwnerEmail
		f.activities[a.OpportunityID] = append(f.activities[a.OpportunityID], a)
		f.touchRelated(a.LeadID)
		results = append(results, map[string]any{"ProspectActivityId": a.ID})
	}
	return ok(map[string]any{"Response": results})
}

// handleLeadActivities answers ProspectActivity.svc/Retrieve?leadId=: the
// lead's activities and those on its opportunities, newest first, with Data
// as [{Key,Value}] (the note under ActivityEvent_Note), paged by Offset/RowCount.
func (f *Fake) handleLeadActivities(q url.Values, body []byte) reply {
	leadID := param(q, "leadId")
	if f.leads[leadID] == nil {
		return f.mxError("MXInvalidInputException", "Lead does not exist")
	}
	var req struct {
		Parameter struct{ ActivityEvent json.Number }
		Paging    struct{ Offset, RowCount json.Number }
	}
	if len(strings.TrimSpace(string(body))) > 0 && json.Unmarshal(body, &req) != nil {
		return reply{400, errorBody("", "Invalid request body")}
	}
	code, _ := strconv.Atoi(req.Parameter.ActivityEvent.String())
	offset, _ := strconv.Atoi(req.Paging.Offset.String())
	rows, _ := strconv.Atoi(req.Paging.RowCount.String())
	rows = cmpInt(rows, 25)

	all := slices.Clone(f.activities[leadID])
	for _, oid := range f.oppOrder {
		if f.opps[oid].fields["RelatedProspectId"] == leadID {
			all = append(all, f.activities[oid]...)
		}
	}
	var found []activity
	for _, a := range all {
		if code == 0 || a.EventCode == code {
			found = append(found, a)
		}
	}
	slices.SortStableFunc(found, func(a, b activity) int { return b.Created.Compare(a.Created) })
	total := len(found)
	start := min(max(offset, 0), total)
	end := min(start+max(rows, 0), total)
	out := make([]map[string]any, 0, end-start)
	for _, a := range found[start:end] {
		data := []map[string]string{{"Key": "ActivityEvent_Note", "Value": a.Note}}
		for _, k := range slices.Sorted(maps.Keys(a.Fields)) {
			data = append(data, map[string]string{"Key": k, "Value": a.Fields[k]})
		}
		out = append(out, map[string]any{
			"Id": a.ID, "EventCode": a.EventCode, "EventName": f.activityTypes[a.EventCode],
			"CreatedOn": a.Created.Format(apiLayout), "ModifiedOn": a.Created.Format(apiLayout),
			"RelatedProspectId": leadID, "Data": data,
			"ActivityFields": map[string]string{"ActivityDateTime": a.Created.Format("1/2/2006 3:04:05 PM"), "ActivityOwnerEmail": a.OwnerEmail},
		})
	}
	return ok(map[string]any{"RecordCount": total, "ProspectActivities": out})
}
