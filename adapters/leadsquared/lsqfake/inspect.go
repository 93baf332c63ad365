package lsqfake

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// Calls returns every request received so far, in order (keys never recorded).
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallCount is the number of calls whose path ends in suffix (e.g. "Lead.Update").
func (f *Fake) CallCount(suffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if len(c.Path) >= len(suffix) && c.Path[len(c.Path)-len(suffix):] == suffix {
			n++
		}
	}
	return n
}

// LeadUpdates is how many times leads were updated (API or person).
func (f *Fake) LeadUpdates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leadUpdates
}

// Lead returns a lead as stored.
func (f *Fake) Lead(id string) (service.Record, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.leads[id]
	if !ok {
		return service.Record{}, false
	}
	return f.leadRecord(l), true
}

// Leads returns every lead in creation order.
func (f *Fake) Leads() []service.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]service.Record, 0, len(f.leadOrder))
	for _, id := range f.leadOrder {
		out = append(out, f.leadRecord(f.leads[id]))
	}
	return out
}

// Opportunity returns an opportunity as stored.
func (f *Fake) Opportunity(id string) (service.Record, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.opps[id]
	if !ok {
		return service.Record{}, false
	}
	return f.oppRecord(o), true
}

// Opportunities returns every opportunity in creation order.
func (f *Fake) Opportunities() []service.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]service.Record, 0, len(f.oppOrder))
	for _, id := range f.oppOrder {
		out = append(out, f.oppRecord(f.opps[id]))
	}
	return out
}

// Activities returns the activities posted on a lead (including the
// "opportunity captured" ones) or on an opportunity, oldest first.
func (f *Fake) Activities(recordID string) []service.Activity {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]service.Activity, 0, len(f.activities[recordID]))
	for _, a := range f.activities[recordID] {
		out = append(out, a.service())
	}
	return out
}

// Users returns every user, the API user first.
func (f *Fake) Users() []service.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]service.User, 0, len(f.users))
	for _, u := range f.users {
		out = append(out, u.service())
	}
	return out
}

// leadRecord converts a stored lead (f.mu held).
func (f *Fake) leadRecord(l *record) service.Record {
	fields := maps.Clone(l.fields)
	r := service.Record{
		Kind: service.KindLead, ID: fields["ProspectID"], LeadID: fields["ProspectID"],
		OwnerID: fields["OwnerId"], ModifiedBy: fields["ModifiedBy"], ModifiedOn: l.modified, Fields: fields,
		CreatedOn: createdOn(fields),
	}
	if u := f.userByID(r.OwnerID); u != nil {
		r.OwnerEmail = u.Email
	}
	return r
}

// oppRecord converts a stored opportunity (f.mu held).
func (f *Fake) oppRecord(o *record) service.Record {
	fields := maps.Clone(o.fields)
	code, _ := strconv.Atoi(fields["OpportunityEventCode"])
	r := service.Record{
		Kind: service.KindOpportunity, ID: fields["OpportunityId"], LeadID: fields["RelatedProspectId"],
		OwnerID: fields["Owner"], ModifiedBy: fields["ModifiedBy"], ModifiedOn: o.modified,
		OpportunityType: code, Fields: fields, CreatedOn: createdOn(fields),
	}
	if u := f.userByID(r.OwnerID); u != nil {
		r.OwnerEmail = u.Email
	}
	return r
}

// createdOn reads a stored record's CreatedOn (zero when unreadable).
func createdOn(fields map[string]string) time.Time {
	t, _ := time.Parse(apiLayout, fields["CreatedOn"])
	return t
}
