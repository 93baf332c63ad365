package leadsquared

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// successMessage is the {"Status":"Success","Message":{…}} answer of writes.
type successMessage struct {
	Status  string `json:"Status"`
	Message struct {
		Id           string      `json:"Id"`
		RelatedId    string      `json:"RelatedId"`
		AffectedRows json.Number `json:"AffectedRows"`
	} `json:"Message"`
}

// GetLead returns the lead with ProspectID id. LeadSquared answers an array
// of zero or one lead; an empty one is an error wrapping service.ErrNotFound.
func (c *Client) GetLead(ctx context.Context, id string) (service.Record, error) {
	return c.oneLead(ctx, request{
		op: "Leads.GetById", method: http.MethodGet,
		path:  "LeadManagement.svc/Leads.GetById",
		query: url.Values{"id": {id}},
	})
}

// FindLeadByPhone returns the lead whose Phone or Mobile matches phone (the
// most recently active one when several do). LeadSquared compares digits, so
// "+91-9988776655" and "919988776655" find the same lead.
func (c *Client) FindLeadByPhone(ctx context.Context, phone string) (service.Record, error) {
	return c.oneLead(ctx, request{
		op: "RetrieveLeadByPhoneNumber", method: http.MethodGet,
		path:  "LeadManagement.svc/RetrieveLeadByPhoneNumber",
		query: url.Values{"phone": {phone}},
	})
}

// FindLeadByEmail returns the lead whose EmailAddress is email.
func (c *Client) FindLeadByEmail(ctx context.Context, email string) (service.Record, error) {
	return c.oneLead(ctx, request{
		op: "Leads.GetByEmailaddress", method: http.MethodGet,
		path:  "LeadManagement.svc/Leads.GetByEmailaddress",
		query: url.Values{"emailaddress": {email}},
	})
}

// oneLead runs a lookup answering an array of flat leads and returns the first.
func (c *Client) oneLead(ctx context.Context, req request) (service.Record, error) {
	var leads []map[string]any
	if err := c.do(ctx, req, &leads); err != nil {
		return service.Record{}, err
	}
	if len(leads) == 0 || leads[0] == nil {
		return service.Record{}, notFound(req.op, "lead")
	}
	rec := leadRecord(flatStrings(leads[0]))
	if rec.ID == "" {
		return service.Record{}, unusable(req.op, http.StatusOK, "lead without ProspectID")
	}
	return rec, nil
}

// CreateLead creates a lead from fields (schema name → value) and returns its
// ProspectID. EmailAddress and Phone are unique: a clash is a permanent
// MXDuplicateEntryException, and the caller should look the lead up instead.
func (c *Client) CreateLead(ctx context.Context, fields map[string]string) (string, error) {
	const op = "Lead.Create"
	var out successMessage
	err := c.do(ctx, request{
		op: op, method: http.MethodPost,
		path:   "LeadManagement.svc/Lead.Create",
		create: true,
		body:   attributes(fields),
	}, &out)
	if err != nil {
		return "", err
	}
	id := cmp.Or(out.Message.Id, out.Message.RelatedId)
	if id == "" {
		return "", unusable(op, http.StatusOK, "answer carries no lead id")
	}
	return id, nil
}

// UpdateLead sets fields on a lead (only the fields sent change; OwnerId
// reassigns it). It never sends postUpdatedLead=true, so LeadSquared fires no
// webhook for our own writes. Zero affected rows wraps service.ErrNotFound.
func (c *Client) UpdateLead(ctx context.Context, leadID string, fields map[string]string) error {
	return c.updateLead(ctx, leadID, fields, false)
}

// UpdateLeadAsPerson is UpdateLead with postUpdatedLead=true: LeadSquared
// then fires its lead-update webhooks as for a person's edit. The sync
// never uses it (it would echo); `lsqbridge uat` does, to act as a person.
func (c *Client) UpdateLeadAsPerson(ctx context.Context, leadID string, fields map[string]string) error {
	return c.updateLead(ctx, leadID, fields, true)
}

func (c *Client) updateLead(ctx context.Context, leadID string, fields map[string]string, notify bool) error {
	const op = "Lead.Update"
	if leadID == "" {
		return invalid(op, "empty lead id")
	}
	q := url.Values{"leadId": {leadID}}
	if notify {
		q.Set("postUpdatedLead", "true")
	}
	var out successMessage
	err := c.do(ctx, request{
		op: op, method: http.MethodPost,
		path:  "LeadManagement.svc/Lead.Update",
		query: q,
		body:  attributes(fields),
	}, &out)
	if err != nil {
		return err
	}
	if out.Message.AffectedRows == "0" {
		return notFound(op, "lead")
	}
	return nil
}

// LeadMetadata returns the org's lead fields (LeadsMetaData.Get). Select
// options come as strings in old tenants and as [{"Value":…}] in new ones.
func (c *Client) LeadMetadata(ctx context.Context) ([]service.FieldMeta, error) {
	var items []map[string]any
	err := c.do(ctx, request{
		op: "LeadsMetaData.Get", method: http.MethodGet,
		path: "LeadManagement.svc/LeadsMetaData.Get",
	}, &items)
	if err != nil {
		return nil, err
	}
	out := make([]service.FieldMeta, 0, len(items))
	for _, it := range items {
		if m := fieldMeta(it, "Options"); m.SchemaName != "" {
			out = append(out, m)
		}
	}
	return out, nil
}

// recentPageSize is the page size of Leads.RecentlyModified (at most 5000).
const recentPageSize = 1000

// maxPages bounds every paging loop, so a server that never answers a short
// page cannot keep a call going forever.
const maxPages = 1000

// RecentlyModifiedLeads returns the leads whose LastModifiedOn (any related
// change, not only ModifiedOn) lies in [from, to], paging from PageIndex 1
// until a short page. Dates are sent in UTC.
func (c *Client) RecentlyModifiedLeads(ctx context.Context, from, to time.Time) ([]service.Record, error) {
	const op = "Leads.RecentlyModified"
	var out []service.Record
	for page := 1; page <= maxPages; page++ {
		var resp struct {
			RecordCount json.Number `json:"RecordCount"`
			Leads       []struct {
				LeadPropertyList []struct {
					Attribute string `json:"Attribute"`
					Value     any    `json:"Value"`
				} `json:"LeadPropertyList"`
			} `json:"Leads"`
		}
		err := c.do(ctx, request{
			op: op, method: http.MethodPost,
			path: "LeadManagement.svc/Leads.RecentlyModified",
			body: map[string]any{
				"Parameter": map[string]string{"FromDate": FormatTime(from), "ToDate": FormatTime(to)},
				"Paging":    map[string]int{"PageIndex": page, "PageSize": recentPageSize},
				"Sorting":   map[string]string{"ColumnName": "ModifiedOn", "Direction": "0"},
			},
		}, &resp)
		if err != nil {
			return nil, err
		}
		for _, l := range resp.Leads {
			fields := make(map[string]string, len(l.LeadPropertyList))
			for _, p := range l.LeadPropertyList {
				fields[p.Attribute] = str(p.Value)
			}
			if rec := leadRecord(fields); rec.ID != "" {
				out = append(out, rec)
			}
		}
		if len(resp.Leads) < recentPageSize {
			return out, nil
		}
	}
	return out, nil
}
