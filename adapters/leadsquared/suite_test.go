package leadsquared_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/service"
)

// Keys used by every test; no error text may ever contain them.
const (
	testAccessKey = "u$r-access-7f3a9c"
	testSecretKey = "s3cr3t-key-b81d44e0"
)

// world names the records a backend holds, so one suite can run against
// canned httptest answers and against the stateful fake.
type world struct {
	LeadID, LeadEmail, LeadPhone string
	OppID                        string
	OppType                      int
	UserID, UserEmail            string
	From, To                     time.Time
}

// cannedWorld is what the canned answers below describe.
var cannedWorld = world{
	LeadID: "1ead0000-0000-4000-8000-000000000001", LeadEmail: "asha@example.com", LeadPhone: "+91-9988776655",
	OppID: "0bb00000-0000-4000-8000-000000000009", OppType: 12000,
	UserID: "05e40000-0000-4000-8000-000000000002", UserEmail: "meera@example.com",
	From: time.Date(2026, 7, 31, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 31, 23, 0, 0, 0, time.UTC),
}

// methodCase is one client method: how to call it, what it must send, a
// canned LeadSquared answer in the reference's shape, and what the result
// must satisfy against any backend.
type methodCase struct {
	name   string
	method string
	// path is relative to /v2/.
	path         string
	canned       func(w world) string
	checkRequest func(t *testing.T, r *http.Request, body []byte, w world)
	call         func(ctx context.Context, c *leadsquared.Client, w world) (any, error)
	check        func(t *testing.T, w world, got any)
}

var emailSeq atomic.Int64

func uniqueEmail() string { return fmt.Sprintf("new-%d@example.com", emailSeq.Add(1)) }

// jsonBody decodes a request body for assertions.
func jsonBody(t *testing.T, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("request body is not JSON: %v: %s", err, body)
	}
	return v
}

func wantQuery(t *testing.T, r *http.Request, key, want string) {
	t.Helper()
	if got := r.URL.Query().Get(key); got != want {
		t.Errorf("query %s = %q, want %q", key, got, want)
	}
}

func leadJSON(w world) string {
	return fmt.Sprintf(`{"ProspectID":%q,"ProspectAutoId":"7","FirstName":"Asha","EmailAddress":%q,"Phone":%q,"ProspectStage":"Prospect","OwnerId":%q,"OwnerIdEmailAddress":%q,"ModifiedOn":"2026-07-31 05:33:50.000","mx_Budget":25000}`,
		w.LeadID, w.LeadEmail, w.LeadPhone, w.UserID, w.UserEmail)
}

func checkLead(t *testing.T, w world, got any) {
	t.Helper()
	r := got.(service.Record)
	if r.Kind != service.KindLead || r.ID != w.LeadID || r.LeadID != w.LeadID || r.OwnerID != w.UserID ||
		r.OwnerEmail != w.UserEmail || !strings.EqualFold(r.Field("EmailAddress"), w.LeadEmail) || r.ModifiedOn.IsZero() {
		t.Errorf("lead = %+v", r)
	}
}

func findMeta(t *testing.T, metas []service.FieldMeta, name string) service.FieldMeta {
	t.Helper()
	for _, m := range metas {
		if m.SchemaName == name {
			return m
		}
	}
	t.Fatalf("no field %s in %+v", name, metas)
	return service.FieldMeta{}
}

var oppFields = map[string]string{"mx_Custom_1": "Goa villa", "Status": "Open", "mx_Custom_4": "2026-08-14"}

// methodCases covers every client method.
var methodCases = []methodCase{
	{
		name: "GetLead", method: http.MethodGet, path: "LeadManagement.svc/Leads.GetById",
		canned: func(w world) string { return "[" + leadJSON(w) + "]" },
		checkRequest: func(t *testing.T, r *http.Request, _ []byte, w world) {
			wantQuery(t, r, "id", w.LeadID)
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.GetLead(ctx, w.LeadID)
		},
		check: checkLead,
	},
	{
		name: "FindLeadByPhone", method: http.MethodGet, path: "LeadManagement.svc/RetrieveLeadByPhoneNumber",
		canned: func(w world) string { return "[" + leadJSON(w) + "]" },
		checkRequest: func(t *testing.T, r *http.Request, _ []byte, w world) {
			wantQuery(t, r, "phone", "919988776655")
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.FindLeadByPhone(ctx, "919988776655")
		},
		check: checkLead,
	},
	{
		name: "FindLeadByEmail", method: http.MethodGet, path: "LeadManagement.svc/Leads.GetByEmailaddress",
		canned: func(w world) string { return "[" + leadJSON(w) + "]" },
		checkRequest: func(t *testing.T, r *http.Request, _ []byte, w world) {
			wantQuery(t, r, "emailaddress", strings.ToUpper(w.LeadEmail))
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.FindLeadByEmail(ctx, strings.ToUpper(w.LeadEmail))
		},
		check: checkLead,
	},
	{
		name: "CreateLead", method: http.MethodPost, path: "LeadManagement.svc/Lead.Create",
		canned: func(world) string {
			return `{"Status":"Success","Message":{"Id":"1ead0000-0000-4000-8000-000000000077"}}`
		},
		checkRequest: func(t *testing.T, _ *http.Request, body []byte, _ world) {
			arr, ok := jsonBody(t, body).([]any)
			if !ok || len(arr) != 3 || arr[0].(map[string]any)["Attribute"] != "EmailAddress" {
				t.Errorf("body = %s", body)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.CreateLead(ctx, map[string]string{"FirstName": "Kiran", "EmailAddress": uniqueEmail(), "mx_City": "Goa"})
		},
		check: func(t *testing.T, _ world, got any) {
			if got.(string) == "" {
				t.Error("empty id")
			}
		},
	},
	{
		name: "UpdateLead", method: http.MethodPost, path: "LeadManagement.svc/Lead.Update",
		canned: func(world) string { return `{"Status":"Success","Message":{"AffectedRows":1}}` },
		checkRequest: func(t *testing.T, r *http.Request, body []byte, w world) {
			wantQuery(t, r, "leadId", w.LeadID)
			if r.URL.Query().Has("postUpdatedLead") {
				t.Error("Lead.Update sent postUpdatedLead")
			}
			want := `[{"Attribute":"OwnerId","Value":"` + w.UserID + `"},{"Attribute":"mx_City","Value":"Pune"}]`
			if string(body) != want {
				t.Errorf("body = %s, want %s", body, want)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return nil, c.UpdateLead(ctx, w.LeadID, map[string]string{"mx_City": "Pune", "OwnerId": w.UserID})
		},
		check: func(*testing.T, world, any) {},
	},
	{
		name: "Users", method: http.MethodGet, path: "UserManagement.svc/Users.Get",
		canned: func(w world) string {
			return fmt.Sprintf(`[{"ID":"05e40000-0000-4000-8000-000000000001","FirstName":"API","LastName":"User","EmailAddress":"api@x.com","Role":"Administrator","StatusCode":0},
				{"ID":%q,"FirstName":"Meera","LastName":"Nair","EmailAddress":%q,"Role":"Sales_User","StatusCode":0},
				{"ID":"gone","FirstName":"Old","LastName":"Hand","EmailAddress":"old@x.com","Role":"Sales_User","StatusCode":1}]`, w.UserID, w.UserEmail)
		},
		call: func(ctx context.Context, c *leadsquared.Client, _ world) (any, error) { return c.Users(ctx) },
		check: func(t *testing.T, w world, got any) {
			users := got.([]service.User)
			i := slices.IndexFunc(users, func(u service.User) bool { return u.ID == w.UserID })
			if i < 0 || users[i].Email != w.UserEmail || !users[i].Active || users[i].Name != "Meera Nair" {
				t.Errorf("users = %+v", users)
			}
		},
	},
	{
		name: "ActivityTypes", method: http.MethodGet, path: "ProspectActivity.svc/ActivityTypes.Get",
		canned: func(world) string {
			return `[{"ActivityEvent":201,"ActivityEventName":"WhatsApp Conversation","DisplayName":"WhatsApp Conversation","EventType":0,"Score":0,"Direction":0},
				{"ActivityEvent":"208","ActivityEventName":"Opportunity Note","Score":2},{"ActivityEventName":"no code"}]`
		},
		call: func(ctx context.Context, c *leadsquared.Client, _ world) (any, error) { return c.ActivityTypes(ctx) },
		check: func(t *testing.T, _ world, got any) {
			types := got.([]service.ActivityType)
			has := func(code int, name string) bool {
				return slices.Contains(types, service.ActivityType{Code: code, Name: name})
			}
			if !has(201, "WhatsApp Conversation") || !has(208, "Opportunity Note") {
				t.Errorf("activity types = %+v", types)
			}
			for _, ty := range types {
				if ty.Code <= 0 {
					t.Errorf("an activity type without a code was kept: %+v", types)
				}
			}
		},
	},
	{
		name: "UserByEmail", method: http.MethodGet, path: "UserManagement.svc/User/Retrieve/ByEmailAddress",
		canned: func(w world) string {
			return fmt.Sprintf(`[{"UserId":%q,"FirstName":"Meera","LastName":"Nair","EmailAddress":%q,"Role":"Sales_User","Groups":[]}]`, w.UserID, w.UserEmail)
		},
		checkRequest: func(t *testing.T, r *http.Request, _ []byte, w world) { wantQuery(t, r, "emailAddress", w.UserEmail) },
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.UserByEmail(ctx, w.UserEmail)
		},
		check: func(t *testing.T, w world, got any) {
			if u := got.(service.User); u.ID != w.UserID || !u.Active {
				t.Errorf("user = %+v", u)
			}
		},
	},
	{
		name: "CaptureOpportunity", method: http.MethodPost, path: "OpportunityManagement.svc/Capture",
		canned: func(world) string {
			return `{"Status":0,"CreatedOpportunityId":"0bb00000-0000-4000-8000-000000000099","IsUnique":true,"AdditionalDetails":[{"ActivityId":"0bb00000-0000-4000-8000-000000000099","PostDeDupActionPerformed":1,"ConflictedOpportunityId":null}]}`
		},
		checkRequest: func(t *testing.T, _ *http.Request, body []byte, w world) {
			want := fmt.Sprintf(`{"LeadDetails":[{"Attribute":"ProspectID","Value":%q},{"Attribute":"SearchBy","Value":"ProspectId"},{"Attribute":"__UseUserDefinedGuid__","Value":"true"}],"Opportunity":{"Fields":[{"SchemaName":"Status","Value":"Open"},{"SchemaName":"mx_Custom_1","Value":"Goa villa"},{"SchemaName":"mx_Custom_4","Value":"2026-08-14"}],"OpportunityEventCode":%d,"OpportunityNote":"from chat"}}`, w.LeadID, w.OppType)
			if string(body) != want {
				t.Errorf("body = %s\nwant   %s", body, want)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.CaptureOpportunity(ctx, service.OpportunityCapture{LeadID: w.LeadID, TypeCode: w.OppType, Note: "from chat", Fields: oppFields})
		},
		check: func(t *testing.T, w world, got any) {
			if r := got.(service.CaptureResult); r.OpportunityID == "" || r.LeadID != w.LeadID || !r.Created {
				t.Errorf("capture = %+v", r)
			}
		},
	},
	{
		name: "UpdateOpportunity", method: http.MethodPost, path: "OpportunityManagement.svc/Update",
		canned: func(w world) string { return `{"Status":"Success","Message":{"Id":"` + w.OppID + `"}}` },
		checkRequest: func(t *testing.T, _ *http.Request, body []byte, w world) {
			want := `{"Fields":[{"SchemaName":"mx_Custom_2","Value":"Reachable"}],"ProspectOpportunityId":"` + w.OppID + `"}`
			if string(body) != want {
				t.Errorf("body = %s", body)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return nil, c.UpdateOpportunity(ctx, w.OppID, map[string]string{"mx_Custom_2": "Reachable"})
		},
		check: func(*testing.T, world, any) {},
	},
	{
		name: "GetOpportunity", method: http.MethodGet, path: "OpportunityManagement.svc/GetOpportunityDetails",
		canned: func(w world) string {
			return fmt.Sprintf(`{"ID":%q,"Name":"Goa villa","DisplayName":"Booking","Fields":[
				{"SchemaName":"mx_Custom_1","DisplayName":"Opportunity Name","Value":"Goa villa","DataType":"String","IsMandatory":true,"OptionSet":""},
				{"SchemaName":"Status","Value":"Open","DataType":"Dropdown","OptionSet":"[{\"label\":\"Open\",\"value\":\"Open\"}]"},
				{"SchemaName":"mx_Custom_2","Value":"New"},{"SchemaName":"Owner","Value":%q},
				{"SchemaName":"RelatedProspectId","Value":%q},{"SchemaName":"OpportunityEventCode","Value":"%d"},
				{"SchemaName":"ModifiedOn","Value":"2026-07-31 11:00:00.000"}]}`, w.OppID, w.UserID, w.LeadID, w.OppType)
		},
		checkRequest: func(t *testing.T, r *http.Request, _ []byte, w world) {
			wantQuery(t, r, "OpportunityId", w.OppID)
			wantQuery(t, r, "getFileURL", "false")
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.GetOpportunity(ctx, w.OppID)
		},
		check: func(t *testing.T, w world, got any) {
			r := got.(service.Record)
			if r.Kind != service.KindOpportunity || r.ID != w.OppID || r.LeadID != w.LeadID || r.OwnerID != w.UserID ||
				r.OpportunityType != w.OppType || r.Field("mx_Custom_2") != "New" || r.Field("Status") != "Open" || r.ModifiedOn.IsZero() {
				t.Errorf("opportunity = %+v", r)
			}
		},
	},
	{
		name: "OpportunitiesOfLead", method: http.MethodPost, path: "OpportunityManagement.svc/GetOpportunitiesOfLead",
		canned: func(w world) string {
			return fmt.Sprintf(`{"RecordCount":1,"List":[{"OpportunityId":%q,"RelatedProspectId":%q,"OpportunityEventCode":%d,"Status":"Open","Owner":%q,"mx_Custom_2":"New","ModifiedOn":"2026-07-31 11:00:00.000"}]}`,
				w.OppID, w.LeadID, w.OppType, w.UserID)
		},
		checkRequest: func(t *testing.T, r *http.Request, _ []byte, w world) {
			wantQuery(t, r, "leadId", w.LeadID)
			wantQuery(t, r, "opportunityType", fmt.Sprint(w.OppType))
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.OpportunitiesOfLead(ctx, w.LeadID, w.OppType)
		},
		check: func(t *testing.T, w world, got any) {
			recs := got.([]service.Record)
			i := slices.IndexFunc(recs, func(r service.Record) bool { return r.ID == w.OppID })
			if i < 0 || recs[i].LeadID != w.LeadID || recs[i].Field("Status") != "Open" || recs[i].OwnerID != w.UserID || recs[i].OpportunityType != w.OppType {
				t.Errorf("opportunities = %+v", recs)
			}
		},
	},
	{
		name: "OpportunityTypeMetadata", method: http.MethodGet, path: "OpportunityManagement.svc/GetOpportunityTypeMetadata",
		canned: func(w world) string {
			return fmt.Sprintf(`{"DisplayName":"Booking","EventCode":%d,"CanDelete":false,"Fields":[
				{"SchemaName":"mx_Custom_1","DisplayName":"Opportunity Name","DataType":"String","IsMandatory":true,"OptionSet":"","MaxFieldLength":"200"},
				{"SchemaName":"Status","DisplayName":"Status","DataType":"Dropdown","IsMandatory":true,"OptionSet":""},
				{"SchemaName":"mx_Custom_2","DisplayName":"Stage","DataType":"Dropdown","ParentField":"Status","OptionSet":"[{\"label\":\"New\",\"value\":\"New\"},{\"label\":\"Reachable\",\"value\":\"Reachable\"},{\"label\":\"Booked\",\"value\":\"Booked\"}]",
				 "DependentOptionSet":"[{\"Parent\":\"Open\",\"Options\":[\"New\",\"Reachable\"]},{\"Parent\":\"Won\",\"Options\":[\"Booked\"]}]"},
				{"SchemaName":"mx_Custom_4","DisplayName":"Check-in","DataType":"Date","IsMandatory":true,"OptionSet":""},
				{"SchemaName":"mx_Custom_6","DisplayName":"Guests","DataType":"Number","OptionSet":""},
				{"SchemaName":"mx_Custom_8","DisplayName":"Amenities","DataType":"Dropdown","IsMultiSelectDropdown":true,"OptionSet":"[{\"Text\":\"\",\"Value\":\"Pool\"},{\"Text\":\"\",\"Value\":\"Spa\"}]"},
				{"SchemaName":"mx_Custom_9","DisplayName":"Arrival","DataType":"DateTime","OptionSet":""}]}`, w.OppType)
		},
		checkRequest: func(t *testing.T, r *http.Request, _ []byte, w world) { wantQuery(t, r, "code", fmt.Sprint(w.OppType)) },
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.OpportunityTypeMetadata(ctx, w.OppType)
		},
		check: func(t *testing.T, _ world, got any) {
			metas := got.([]service.FieldMeta)
			if m := findMeta(t, metas, "Status"); m.DataType != "Select" || !slices.Equal(m.Options, []string{"Open", "Won", "Lost"}) || !m.Required {
				t.Errorf("Status = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Custom_1"); m.DataType != "Text" || !m.Required || m.DisplayName != "Opportunity Name" {
				t.Errorf("mx_Custom_1 = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Custom_2"); m.DataType != "Select" || !slices.Contains(m.Options, "Reachable") ||
				m.ParentField != "Status" || !slices.Contains(m.OptionsByParent["Open"], "Reachable") ||
				!slices.Equal(m.OptionsByParent["Won"], []string{"Booked"}) {
				t.Errorf("mx_Custom_2 (Stage, depending on Status) = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Custom_8"); m.DataType != "MultiSelect" || !slices.Contains(m.Options, "Spa") {
				t.Errorf("mx_Custom_8 (multi-select) = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Custom_9"); m.DataType != "DateTime" {
				t.Errorf("mx_Custom_9 (date-time) = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Custom_4"); m.DataType != "Date" || !m.Required {
				t.Errorf("mx_Custom_4 = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Custom_6"); m.DataType != "Number" {
				t.Errorf("mx_Custom_6 = %+v", m)
			}
		},
	},
	{
		name: "LeadMetadata", method: http.MethodGet, path: "LeadManagement.svc/LeadsMetaData.Get",
		canned: func(world) string {
			return `[{"SchemaName":"ProspectStage","DisplayName":"Lead Stage","DataType":"Select","IsMandatory":false,"Options":["Prospect","Customer"]},
				{"SchemaName":"mx_Interest","DisplayName":"Interest","DataType":"Select","Options":[{"Value":"Villa","Text":"Villa"}]},
				{"SchemaName":"mx_Budget","DisplayName":"Budget","DataType":"Number","Options":null,"MaxLength":0},
				{"SchemaName":"EmailAddress","DisplayName":"Email","DataType":"Email","MaxLength":100}]`
		},
		call: func(ctx context.Context, c *leadsquared.Client, _ world) (any, error) { return c.LeadMetadata(ctx) },
		check: func(t *testing.T, _ world, got any) {
			metas := got.([]service.FieldMeta)
			if m := findMeta(t, metas, "ProspectStage"); m.DataType != "Select" || !slices.Contains(m.Options, "Prospect") {
				t.Errorf("ProspectStage = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Interest"); !slices.Contains(m.Options, "Villa") {
				t.Errorf("mx_Interest = %+v", m)
			}
			if m := findMeta(t, metas, "mx_Budget"); m.DataType != "Number" || len(m.Options) != 0 {
				t.Errorf("mx_Budget = %+v", m)
			}
			if m := findMeta(t, metas, "EmailAddress"); m.DataType != "Email" || m.MaxLength != 100 {
				t.Errorf("EmailAddress = %+v", m)
			}
		},
	},
	{
		name: "PostLeadActivity", method: http.MethodPost, path: "ProspectActivity.svc/Create",
		canned: func(world) string {
			return `{"Status":"Success","Message":{"Id":"ac700000-0000-4000-8000-000000000031"}}`
		},
		checkRequest: func(t *testing.T, _ *http.Request, body []byte, w world) {
			want := `{"ActivityDateTime":"2026-07-31 05:33:50","ActivityEvent":201,"ActivityNote":"agent replied","Fields":[{"SchemaName":"mx_Custom_1","Value":"ticket 42"}],"RelatedProspectId":"` + w.LeadID + `"}`
			if string(body) != want {
				t.Errorf("body = %s", body)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			ist := time.FixedZone("IST", 19800)
			return c.PostLeadActivity(ctx, w.LeadID, service.Activity{EventCode: 201, Note: "agent replied",
				DateTime: time.Date(2026, 7, 31, 11, 3, 50, 0, ist), Fields: map[string]string{"mx_Custom_1": "ticket 42"}})
		},
		check: func(t *testing.T, _ world, got any) {
			if got.(string) == "" {
				t.Error("empty activity id")
			}
		},
	},
	{
		name: "PostOpportunityActivity", method: http.MethodPost, path: "ProspectActivity.svc/Bulk/CustomActivity/Add/ByOpportunityId",
		canned: func(world) string {
			return `{"Response":[{"ProspectActivityId":"ac700000-0000-4000-8000-000000000032"}]}`
		},
		checkRequest: func(t *testing.T, r *http.Request, body []byte, w world) {
			wantQuery(t, r, "opportunityId", w.OppID)
			want := `[{"ActivityEvent":208,"ActivityNote":"key=abc","ActivityOwnerEmail":"` + w.UserEmail + `"}]`
			if string(body) != want {
				t.Errorf("body = %s", body)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.PostOpportunityActivity(ctx, w.OppID, service.Activity{EventCode: 208, Note: "key=abc", OwnerEmail: w.UserEmail})
		},
		check: func(t *testing.T, _ world, got any) {
			if got.(string) == "" {
				t.Error("empty activity id")
			}
		},
	},
	{
		name: "LeadActivities", method: http.MethodPost, path: "ProspectActivity.svc/Retrieve",
		canned: func(w world) string {
			return `{"RecordCount":1,"ProspectActivities":[{"Id":"ac700000-0000-4000-8000-000000000031","EventCode":201,"EventName":"WhatsApp Conversation","CreatedOn":"2026-07-31 05:33:50.000","RelatedProspectId":"` + w.LeadID + `","Data":[{"Key":"ActivityEvent_Note","Value":"hello from chat"},{"Key":"mx_Custom_1","Value":"ticket 42"}],"ActivityFields":{"ActivityDateTime":"7/31/2026 5:33:50 AM"}}]}`
		},
		checkRequest: func(t *testing.T, r *http.Request, body []byte, w world) {
			wantQuery(t, r, "leadId", w.LeadID)
			if !strings.Contains(string(body), `"ActivityEvent":201`) {
				t.Errorf("body = %s", body)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.LeadActivities(ctx, w.LeadID, 201)
		},
		check: func(t *testing.T, _ world, got any) {
			acts := got.([]service.Activity)
			i := slices.IndexFunc(acts, func(a service.Activity) bool { return a.Note == "hello from chat" })
			if i < 0 || acts[i].EventCode != 201 || acts[i].ID == "" || acts[i].DateTime.IsZero() || acts[i].Fields["mx_Custom_1"] != "ticket 42" {
				t.Errorf("activities = %+v", acts)
			}
		},
	},
	{
		name: "RecentlyModifiedLeads", method: http.MethodPost, path: "LeadManagement.svc/Leads.RecentlyModified",
		canned: func(w world) string {
			return `{"RecordCount":1,"Leads":[{"LeadPropertyList":[{"Attribute":"ProspectID","Value":"` + w.LeadID + `"},{"Attribute":"EmailAddress","Value":"` + w.LeadEmail + `"},{"Attribute":"OwnerId","Value":"` + w.UserID + `"},{"Attribute":"OwnerIdEmailAddress","Value":"` + w.UserEmail + `"},{"Attribute":"ModifiedOn","Value":"2026-07-31 05:33:50.000"}]}]}`
		},
		checkRequest: func(t *testing.T, _ *http.Request, body []byte, w world) {
			want := fmt.Sprintf(`"Parameter":{"FromDate":%q,"ToDate":%q}`, leadsquared.FormatTime(w.From), leadsquared.FormatTime(w.To))
			if !strings.Contains(string(body), want) || !strings.Contains(string(body), `"PageIndex":1`) {
				t.Errorf("body = %s, want %s", body, want)
			}
		},
		call: func(ctx context.Context, c *leadsquared.Client, w world) (any, error) {
			return c.RecentlyModifiedLeads(ctx, w.From, w.To)
		},
		check: func(t *testing.T, w world, got any) {
			recs := got.([]service.Record)
			i := slices.IndexFunc(recs, func(r service.Record) bool { return r.ID == w.LeadID })
			if i < 0 {
				t.Fatalf("lead %s not in %+v", w.LeadID, recs)
			}
			checkLead(t, w, recs[i])
		},
	},
}
