package lsqfake_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/service"
)

func TestStoreQuirks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("ModifiedOn strictly increases with a frozen clock", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		var last time.Time
		for i := 0; i < 3; i++ {
			if err := e.client.UpdateLead(ctx, e.lead.ID, map[string]string{"mx_City": "Goa"}); err != nil {
				t.Fatal(err)
			}
			l, _ := e.client.GetLead(ctx, e.lead.ID)
			if !l.ModifiedOn.After(last) || !strings.HasSuffix(l.Field("ModifiedOn"), l.ModifiedOn.Format(".000")) {
				t.Fatalf("ModifiedOn %v (%s) not after %v", l.ModifiedOn, l.Field("ModifiedOn"), last)
			}
			last = l.ModifiedOn
		}
	})
	t.Run("phones unique as strings, found by digits", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		_, err := e.client.CreateLead(ctx, map[string]string{"Phone": "+91-9988776655"})
		if !isException(err, "MXDuplicateEntryException") {
			t.Fatalf("same phone: %v", err)
		}
		// Another format is not a duplicate to LeadSquared: it creates a second lead.
		id, err := e.client.CreateLead(ctx, map[string]string{"Phone": "9988776655", "Mobile": "+91 99887 76655"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		if err := e.client.UpdateLead(ctx, id, map[string]string{"mx_City": "Goa"}); err != nil {
			t.Fatal(err)
		}
		l, err := e.client.FindLeadByPhone(ctx, "919988776655")
		if err != nil || l.ID != id {
			t.Errorf("by phone = %v, %v; want the most recently active %s", l.ID, err, id)
		}
		if l, _ := e.fake.Lead(e.lead.ID); l.Field("Phone") != "+91-9988776655" {
			t.Errorf("phone stored as %q", l.Field("Phone"))
		}
	})
	t.Run("Capture creates one opportunity per call unless dedup is on", func(t *testing.T) {
		t.Parallel()
		for _, dedup := range []bool{false, true} {
			e := setup(t, lsqfake.Options{OpportunityDuplicateDetection: dedup})
			c := service.OpportunityCapture{LeadID: e.lead.ID, TypeCode: 12000,
				Fields: map[string]string{"mx_Custom_1": "x", "Status": "Open", "mx_Custom_4": "2026-08-14"}}
			first, err1 := e.client.CaptureOpportunity(ctx, c)
			second, err2 := e.client.CaptureOpportunity(ctx, c)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			opps, _ := e.client.OpportunitiesOfLead(ctx, e.lead.ID, 12000)
			if dedup && (len(opps) != 1 || second.Created || second.OpportunityID != first.OpportunityID) {
				t.Errorf("dedup: %d opportunities, second %+v", len(opps), second)
			}
			if !dedup && (len(opps) != 2 || !second.Created || second.OpportunityID == first.OpportunityID) {
				t.Errorf("no dedup: %d opportunities, second %+v", len(opps), second)
			}
		}
	})
	t.Run("capture by e-mail creates the lead and fires lead-created", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		res, err := e.client.CaptureOpportunity(ctx, service.OpportunityCapture{LeadFields: map[string]string{"EmailAddress": "new@example.com", "FirstName": "N"},
			TypeCode: 12000, Fields: map[string]string{"mx_Custom_1": "x", "Status": "Open", "mx_Custom_4": "2026-08-14"}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.client.FindLeadByEmail(ctx, "new@example.com")
		if err != nil || res.LeadID != l.ID {
			t.Errorf("capture lead %q, lead by e-mail %q (%v)", res.LeadID, l.ID, err)
		}
		if names := eventNames(e.take(t)); !slices.Equal(names, []string{"lead-created", "opportunity-created"}) {
			t.Errorf("fired %v", names)
		}
	})
	t.Run("RecentlyModified follows LastModifiedOn", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		e.clock.Add(time.Hour)
		mark := e.clock.Now()
		if _, err := e.client.PostLeadActivity(ctx, e.lead.ID, service.Activity{EventCode: 201, Note: "x"}); err != nil {
			t.Fatal(err)
		}
		recs, err := e.client.RecentlyModifiedLeads(ctx, mark, mark.Add(time.Second))
		if err != nil || len(recs) != 1 || recs[0].ID != e.lead.ID {
			t.Fatalf("recent = %+v, %v", recs, err)
		}
		if !recs[0].ModifiedOn.Before(mark) {
			t.Errorf("an activity moved ModifiedOn: %v", recs[0].ModifiedOn)
		}
		if recs, _ := e.client.RecentlyModifiedLeads(ctx, mark.Add(time.Minute), mark.Add(time.Hour)); len(recs) != 0 {
			t.Errorf("outside the window: %+v", recs)
		}
	})
	t.Run("inactive users are not found and cannot own", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		if err := e.fake.DeactivateUser(e.user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.UserByEmail(ctx, e.user.Email); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("inactive by e-mail: %v", err)
		}
		if err := e.client.UpdateLead(ctx, e.lead.ID, map[string]string{"OwnerId": e.user.ID}); !isException(err, "MXInvalidInputException") {
			t.Errorf("owner inactive: %v", err)
		}
		users, _ := e.client.Users(ctx)
		if i := slices.IndexFunc(users, func(u service.User) bool { return u.ID == e.user.ID }); i < 0 || users[i].Active {
			t.Errorf("users = %+v", users)
		}
	})
	t.Run("opportunity activity needs a user's e-mail", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		o, err := e.fake.CreateOpportunity(e.lead.ID, map[string]string{"mx_Custom_1": "x", "mx_Custom_4": "2026-08-14"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.PostOpportunityActivity(ctx, o.ID, service.Activity{EventCode: 208, OwnerEmail: "stranger@example.com"}); !isException(err, "MXInvalidActivityFieldsException") {
			t.Errorf("stranger: %v", err)
		}
		id, err := e.client.PostOpportunityActivity(ctx, o.ID, service.Activity{EventCode: 208, Note: "idem-key-1", OwnerEmail: e.user.Email})
		if err != nil {
			t.Fatal(err)
		}
		acts, _ := e.client.LeadActivities(ctx, e.lead.ID, 208)
		if len(acts) != 1 || acts[0].ID != id || acts[0].Note != "idem-key-1" || acts[0].OwnerEmail != e.user.Email {
			t.Errorf("lead activities = %+v", acts)
		}
	})
}

func isException(err error, exception string) bool {
	var ae *leadsquared.APIError
	return errors.As(err, &ae) && ae.ExceptionType == exception
}
