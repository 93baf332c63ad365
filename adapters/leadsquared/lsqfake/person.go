package lsqfake

import (
	"errors"
	"fmt"
	"maps"

	"github.com/lsqbridge/lsqbridge/service"
)

// The person API acts as a human in LeadSquared's UI: each change is made by
// the first user added (ModifiedBy), is validated like the API, and fires
// the webhooks LeadSquared fires for a change made in the UI.

// errPerson wraps a validation failure of a person action.
func errPerson(action string, r *reply) error {
	msg := "rejected"
	if m, ok := r.body.(map[string]any); ok {
		msg = fmt.Sprintf("%v: %v", m["ExceptionType"], m["ExceptionMessage"])
	}
	return fmt.Errorf("lsqfake %s: %s", action, msg)
}

// ErrNoRecord is returned by person actions on an unknown lead or opportunity.
var ErrNoRecord = errors.New("lsqfake: no such record")

// CreateLead creates a lead as a person would (OwnerId defaults to the first
// user added) and fires lead-created with the full lead.
func (f *Fake) CreateLead(fields map[string]string) (service.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.validateLead(fields, "", true); r != nil {
		return service.Record{}, errPerson("create lead", r)
	}
	l := f.createLeadLocked("", fields, f.person())
	return f.leadRecord(l), nil
}

// ChangeLeadOwner reassigns a lead; fires lead-updated and lead-owner-changed.
func (f *Fake) ChangeLeadOwner(leadID, userID string) error {
	return f.SetLeadFields(leadID, map[string]string{"OwnerId": userID})
}

// ErrChanged is returned by ChangeLeadOwnerFrom when the owner is no longer
// the one the person saw.
var ErrChanged = errors.New("lsqfake: the record changed since the person looked")

// ChangeLeadOwnerFrom is ChangeLeadOwner by a person who saw owner from on
// the screen: when someone (lsqbridge, say) changed it meanwhile, nothing
// is saved and ErrChanged says so. It makes "a person's change" exact in
// tests that race people against the sync.
func (f *Fake) ChangeLeadOwnerFrom(leadID, from, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.leads[leadID]
	if l == nil {
		return fmt.Errorf("change lead owner %s: %w", leadID, ErrNoRecord)
	}
	if l.fields["OwnerId"] != from {
		return ErrChanged
	}
	fields := map[string]string{"OwnerId": to}
	if r := f.validateLead(fields, leadID, false); r != nil {
		return errPerson("change lead owner", r)
	}
	f.updateLeadLocked(l, fields, f.person(), true)
	return nil
}

// SetLeadFields saves fields on a lead as a person would: fires lead-updated
// (even when nothing changed, as a save does), lead-owner-changed when
// OwnerId changed and lead-stage-changed when ProspectStage changed.
func (f *Fake) SetLeadFields(leadID string, fields map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.leads[leadID]
	if l == nil {
		return fmt.Errorf("set lead fields %s: %w", leadID, ErrNoRecord)
	}
	if r := f.validateLead(fields, leadID, false); r != nil {
		return errPerson("set lead fields", r)
	}
	f.updateLeadLocked(l, fields, f.person(), true)
	return nil
}

// CreateOpportunity creates an opportunity of the fake's type on a lead as a
// person would (Status defaults to Open, Owner to the lead's owner) and
// fires opportunity-created.
func (f *Fake) CreateOpportunity(leadID string, fields map[string]string) (service.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.leads[leadID]
	if l == nil {
		return service.Record{}, fmt.Errorf("create opportunity on %s: %w", leadID, ErrNoRecord)
	}
	fields = maps.Clone(fields)
	if fields == nil {
		fields = map[string]string{}
	}
	if fields["Status"] == "" {
		fields["Status"] = "Open"
	}
	if fields["Owner"] == "" {
		fields["Owner"] = l.fields["OwnerId"]
	}
	if r := f.validateOpp(fields, true); r != nil {
		return service.Record{}, errPerson("create opportunity", r)
	}
	o := f.createOppLocked(leadID, fields, "", f.person())
	return f.oppRecord(o), nil
}

// UpdateOpportunity saves fields on an opportunity as a person would; fires
// opportunity-updated, and opportunity-stage-changed when Status or
// mx_Custom_2 changed.
func (f *Fake) UpdateOpportunity(id string, fields map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.opps[id]
	if o == nil {
		return fmt.Errorf("update opportunity %s: %w", id, ErrNoRecord)
	}
	if r := f.validateOpp(fields, false); r != nil {
		return errPerson("update opportunity", r)
	}
	f.updateOppLocked(o, fields, f.person())
	return nil
}
