package leadsquared_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/service"
)

func TestClientNotFound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		call func(ctx context.Context, c *leadsquared.Client) error
	}{
		{"GetLead", `[]`, func(ctx context.Context, c *leadsquared.Client) error { _, err := c.GetLead(ctx, "x"); return err }},
		{"FindLeadByPhone", `[]`, func(ctx context.Context, c *leadsquared.Client) error {
			_, err := c.FindLeadByPhone(ctx, "1")
			return err
		}},
		{"FindLeadByEmail", `[]`, func(ctx context.Context, c *leadsquared.Client) error {
			_, err := c.FindLeadByEmail(ctx, "a@b")
			return err
		}},
		{"UserByEmail", `[]`, func(ctx context.Context, c *leadsquared.Client) error {
			_, err := c.UserByEmail(ctx, "a@b")
			return err
		}},
		{"GetOpportunity", `{"ID":"x","Fields":[]}`, func(ctx context.Context, c *leadsquared.Client) error {
			_, err := c.GetOpportunity(ctx, "x")
			return err
		}},
		{"UpdateLead zero rows", `{"Status":"Success","Message":{"AffectedRows":0}}`, func(ctx context.Context, c *leadsquared.Client) error {
			return c.UpdateLead(ctx, "x", map[string]string{"mx_City": "Goa"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) { writeBody(w, 200, "application/json", tt.body) })
			err := tt.call(context.Background(), newClient(srv.URL, time.Second))
			if !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			if class, _ := service.ClassOf(err); class != service.ClassPermanent {
				t.Errorf("class = %v", class)
			}
		})
	}
}

func TestCaptureOpportunityAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		capture   service.OpportunityCapture
		answer    string
		details   string // GetOpportunityDetails answer, if the client must read the lead back
		wantBody  string // substring of the request body
		want      service.CaptureResult
		wantErr   string
		wantClass service.ErrorClass
	}{
		{name: "by e-mail, lead read back",
			capture:  service.OpportunityCapture{LeadFields: map[string]string{"EmailAddress": "a@x.com", "FirstName": "A"}, TypeCode: 12000, Fields: oppFields},
			answer:   `{"Status":0,"CreatedOpportunityId":"O1","AdditionalDetails":[{"ActivityId":"O1","PostDeDupActionPerformed":1}]}`,
			details:  `{"ID":"O1","Fields":[{"SchemaName":"RelatedProspectId","Value":"L1"}]}`,
			wantBody: `{"Attribute":"SearchBy","Value":"EmailAddress"}`,
			want:     service.CaptureResult{OpportunityID: "O1", LeadID: "L1", Created: true}},
		{name: "by phone when no e-mail",
			capture:  service.OpportunityCapture{LeadFields: map[string]string{"Phone": "+91-9000000001"}, TypeCode: 12000},
			answer:   `{"AdditionalDetails":[{"ActivityId":"O2","PostDeDupActionPerformed":1,"RelatedProspectId":"L2"}]}`,
			wantBody: `{"Attribute":"SearchBy","Value":"Phone"}`,
			want:     service.CaptureResult{OpportunityID: "O2", LeadID: "L2", Created: true}},
		{name: "duplicate found creates nothing",
			capture: service.OpportunityCapture{LeadID: "L1", TypeCode: 12000},
			answer:  `{"Status":0,"CreatedOpportunityId":null,"IsUnique":false,"AdditionalDetails":[{"ActivityId":null,"PostDeDupActionPerformed":3,"ConflictedOpportunityId":"O9"}]}`,
			want:    service.CaptureResult{OpportunityID: "O9", LeadID: "L1", Created: false}},
		{name: "numeric Status 1 is a failure",
			capture: service.OpportunityCapture{LeadID: "L1", TypeCode: 12000},
			answer:  `{"Status":1,"ExceptionMessage":"Mandatory field(s) missing"}`,
			wantErr: "Mandatory field(s) missing", wantClass: service.ClassPermanent},
		{name: "no id in a success answer is uncertain",
			capture: service.OpportunityCapture{LeadID: "L1", TypeCode: 12000},
			answer:  `{"Status":0}`,
			wantErr: "no opportunity id", wantClass: service.ClassUncertain},
		{name: "no lead identity is refused before sending",
			capture: service.OpportunityCapture{LeadFields: map[string]string{"FirstName": "A"}, TypeCode: 12000},
			wantErr: "need a lead id", wantClass: service.ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, calls := server(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if strings.HasSuffix(r.URL.Path, "/GetOpportunityDetails") {
					writeBody(w, 200, "application/json", tt.details)
					return
				}
				if !strings.Contains(string(body), tt.wantBody) {
					t.Errorf("body %s lacks %s", body, tt.wantBody)
				}
				writeBody(w, 200, "application/json", tt.answer)
			})
			got, err := newClient(srv.URL, time.Second).CaptureOpportunity(context.Background(), tt.capture)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if class, _ := service.ClassOf(err); class != tt.wantClass {
					t.Errorf("class = %v, want %v", class, tt.wantClass)
				}
				if tt.answer == "" && calls.Load() != 0 {
					t.Errorf("%d calls for a refused capture", calls.Load())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPostOpportunityActivityNeedsOwnerEmail(t *testing.T) {
	t.Parallel()
	srv, calls := server(t, func(w http.ResponseWriter, r *http.Request) {})
	_, err := newClient(srv.URL, time.Second).PostOpportunityActivity(context.Background(), "O1", service.Activity{EventCode: 208, Note: "x"})
	if err == nil || !strings.Contains(err.Error(), "ActivityOwnerEmail") || calls.Load() != 0 {
		t.Fatalf("err = %v after %d calls", err, calls.Load())
	}
}

func TestPostOpportunityActivityItemFailure(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, 200, "application/json", `{"Response":[{"Status":"Error","ExceptionType":"MXInvalidActivityFieldsException","ExceptionMessage":"ActivityOwnerEmail is mandatory"}]}`)
	})
	_, err := newClient(srv.URL, time.Second).PostOpportunityActivity(context.Background(), "O1", service.Activity{EventCode: 208, OwnerEmail: "x@y"})
	var ae *leadsquared.APIError
	if !errors.As(err, &ae) || ae.ExceptionType != "MXInvalidActivityFieldsException" || ae.Class() != service.ClassPermanent {
		t.Fatalf("err = %v", err)
	}
}

func TestRecentlyModifiedLeadsPages(t *testing.T) {
	t.Parallel()
	page := func(start, n int) string {
		leads := make([]map[string]any, n)
		for i := range leads {
			leads[i] = map[string]any{"LeadPropertyList": []map[string]any{{"Attribute": "ProspectID", "Value": fmt.Sprintf("L%d", start+i)}}}
		}
		b, _ := json.Marshal(map[string]any{"RecordCount": 1003, "Leads": leads})
		return string(b)
	}
	var indexes []float64
	srv, calls := server(t, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Paging struct{ PageIndex, PageSize float64 }
		}
		json.NewDecoder(r.Body).Decode(&req)
		indexes = append(indexes, req.Paging.PageIndex)
		if req.Paging.PageIndex == 1 {
			writeBody(w, 200, "application/json", page(0, int(req.Paging.PageSize)))
			return
		}
		writeBody(w, 200, "application/json", page(1000, 3))
	})
	recs, err := newClient(srv.URL, time.Second).RecentlyModifiedLeads(context.Background(), time.Now().Add(-time.Hour), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1003 || calls.Load() != 2 || recs[1002].ID != "L1002" || fmt.Sprint(indexes) != "[1 2]" {
		t.Errorf("%d records in %d calls (pages %v)", len(recs), calls.Load(), indexes)
	}
}

func TestMetadataShapes(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "LeadsMetaData.Get") {
			writeBody(w, 200, "application/json", `[{"SchemaName":"mx_A","DataType":"Select","Options":"[\"x\",\"y\"]"},{"SchemaName":"mx_B","DataType":"Dropdown","Options":"p, q"},{"SchemaName":"mx_C","DataType":"Boolean","IsMandatory":"true"}]`)
			return
		}
		writeBody(w, 200, "application/json", `{"Fields":[{"SchemaName":"mx_Custom_9","DataType":"DateTime","OptionSet":null},{"SchemaName":"Status","DataType":"String","OptionSet":"[{\"Value\":\"Open\"},{\"Value\":\"Won\"},{\"Value\":\"Lost\"}]"},{"SchemaName":"mx_Custom_8","DataType":"SomethingNew","IsReadOnly":true}]}`)
	})
	c := newClient(srv.URL, time.Second)
	leads, err := c.LeadMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%v %v %v %v %v", leads[0].Options, leads[1].Options, leads[1].DataType, leads[2].DataType, leads[2].Required) != "[x y] [p q] Select Boolean true" {
		t.Errorf("lead metadata = %+v", leads)
	}
	opp, err := c.OpportunityTypeMetadata(context.Background(), 12000)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%v %v %v %v %v", opp[0].DataType, opp[1].DataType, opp[1].Options, opp[2].DataType, opp[2].ReadOnly) != "DateTime Select [Open Won Lost] Text true" {
		t.Errorf("opportunity metadata = %+v", opp)
	}
}

// TestMetadataTypesEachShape reads every field type LeadSquared's metadata
// can describe, in the shapes the archived pages and public code show
// (docs/leadsquared.md): a Date rendered DateTime on leads, DateTime and
// multi-select dropdowns on opportunities, a Stage depending on Status in
// each dependent-option shape accepted, and types a form cannot fill.
func TestMetadataTypesEachShape(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "LeadsMetaData.Get") {
			writeBody(w, 200, "application/json", `[
				{"SchemaName":"mx_Visit","DataType":"Date","RenderTypeTextValue":"DateTime"},
				{"SchemaName":"mx_Born","DataType":"Date","RenderTypeTextValue":"Date"},
				{"SchemaName":"mx_Langs","DataType":"Select","RenderTypeTextValue":"MultiSelect","Options":[{"Value":"Hindi"},{"Value":"Tamil"}]},
				{"SchemaName":"LeadType","DataType":"Select","AllowMultiple":true,"RenderTypeTextValue":"Dropdown","Options":[{"Value":"OT_0"}]}]`)
			return
		}
		writeBody(w, 200, "application/json", `{"Fields":[
			{"SchemaName":"Status","DataType":"SearchableDropdown","ParentField":"","OptionSet":"[{\"IsDefault\":true,\"Text\":\"\",\"Value\":\"Open\"},{\"Text\":\"\",\"Value\":\"Won\"}]","DependentOptionSet":""},
			{"SchemaName":"mx_Custom_2","DataType":"Dropdown","ParentField":"Status","OptionSet":"","DependentOptionSet":"[{\"Parent\":\"Open\",\"Options\":[\"New\",\"Qualified\"]},{\"Parent\":\"Won\",\"Options\":[\"Booked\"]}]"},
			{"SchemaName":"mx_Custom_3","DataType":"Dropdown","ParentField":"Status","DependentOptionSet":{"Open":["Hot","Cold"],"Lost":[]}},
			{"SchemaName":"mx_Custom_4","DataType":"Dropdown","ParentField":"Status","OptionSet":"[{\"Value\":\"A\",\"ParentValue\":\"Open\"},{\"Value\":\"B\",\"ParentValue\":\"Won\"}]"},
			{"SchemaName":"mx_Custom_5","DataType":"Dropdown","IsMultiSelectDropdown":true,"OptionSet":"[{\"Value\":\"Pool\"},{\"Value\":\"Spa\"}]"},
			{"SchemaName":"mx_Custom_6","DataType":"DateTime","MaxFieldLength":200},
			{"SchemaName":"mx_Custom_7","DataType":"ActiveUsers","IsMandatory":true},
			{"SchemaName":"mx_Custom_8","DataType":"Number","IsMultiSelectDropdown":false}]}`)
	})
	c := newClient(srv.URL, time.Second)
	leads, err := c.LeadMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range leads {
		got = append(got, m.SchemaName+"="+m.DataType)
	}
	if want := "mx_Visit=DateTime mx_Born=Date mx_Langs=MultiSelect LeadType=Select"; strings.Join(got, " ") != want {
		t.Errorf("lead types %v, want %s (AllowMultiple alone is not a multi-select: LeadType has it)", got, want)
	}
	opp, err := c.OpportunityTypeMetadata(context.Background(), 12000)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]service.FieldMeta{}
	for _, m := range opp {
		byName[m.SchemaName] = m
	}
	check := func(name, dataType, parent string, options []string, byParent map[string][]string) {
		t.Helper()
		m := byName[name]
		if m.DataType != dataType || m.ParentField != parent || !slices.Equal(m.Options, options) || !reflect.DeepEqual(m.OptionsByParent, byParent) {
			t.Errorf("%s = %+v; want %s, parent %q, options %v by parent %v", name, m, dataType, parent, options, byParent)
		}
	}
	check("Status", "Select", "", []string{"Open", "Won"}, nil)
	check("mx_Custom_2", "Select", "Status", []string{"New", "Qualified", "Booked"}, map[string][]string{"Open": {"New", "Qualified"}, "Won": {"Booked"}})
	check("mx_Custom_4", "Select", "Status", []string{"A", "B"}, map[string][]string{"Open": {"A"}, "Won": {"B"}})
	check("mx_Custom_5", "MultiSelect", "", []string{"Pool", "Spa"}, nil)
	check("mx_Custom_6", "DateTime", "", nil, nil)
	check("mx_Custom_7", "Unsupported", "", nil, nil)
	check("mx_Custom_8", "Number", "", nil, nil)
	if m := byName["mx_Custom_3"]; m.DataType != "Select" || !reflect.DeepEqual(m.OptionsByParent, map[string][]string{"Open": {"Hot", "Cold"}, "Lost": {}}) {
		t.Errorf("mx_Custom_3 (object shape) = %+v", m)
	}
}

func TestAPIErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		ctype     string
		body      string
		wantClass service.ErrorClass
		wantLimit int
	}{
		{429, "text/plain", "slow down", service.ClassRateLimited, 0},
		{200, "application/json", `{"Status":"Error","ExceptionMessage":"API calls Exceeded The Limit of 20 in 5 second(s)"}`, service.ClassRateLimited, 20},
		{500, "application/json", `{"Status":"Error","ExceptionType":"MXInvalidDataTypeException","ExceptionMessage":"bad"}`, service.ClassPermanent, 0},
		{400, "application/json", `{"Status":"Error","ExceptionMessage":"bad body"}`, service.ClassPermanent, 0},
		{500, "application/json", `{"Message":"An error has occurred."}`, service.ClassRetryable, 0},
		{504, "text/html", "<html/>", service.ClassRetryable, 0},
		{200, "text/html", "<html>maintenance</html>", service.ClassUncertain, 0},
		{200, "application/json", `{"Status":"Error"}`, service.ClassPermanent, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.body), func(t *testing.T) {
			t.Parallel()
			srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) { writeBody(w, tt.status, tt.ctype, tt.body) })
			c := leadsquared.New(leadsquared.Config{BaseURL: srv.URL, Retries: -1})
			_, err := c.Users(context.Background())
			var ae *leadsquared.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v", err)
			}
			if ae.Class() != tt.wantClass || ae.Limit != tt.wantLimit {
				t.Errorf("class %v limit %d, want %v %d (%v)", ae.Class(), ae.Limit, tt.wantClass, tt.wantLimit, err)
			}
		})
	}
}

// TestRedirectsAreNotFollowedWithTheKeys: a 3xx answer is a permanent error
// and the host it points at never sees a request (nor the key headers),
// even with a caller's client that would follow it.
func TestRedirectsAreNotFollowedWithTheKeys(t *testing.T) {
	t.Parallel()
	elsewhere, stolen := server(t, func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, http.StatusOK, "application/json", `[]`)
	})
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/v2/steal", status)
		})
		c := leadsquared.New(leadsquared.Config{BaseURL: srv.URL, AccessKey: testAccessKey, SecretKey: testSecretKey,
			HTTPClient: &http.Client{}, Timeout: time.Second, RetryBackoff: time.Millisecond})
		_, err := c.Users(context.Background())
		class, _ := service.ClassOf(err)
		if err == nil || class != service.ClassPermanent || !strings.Contains(err.Error(), "redirect") {
			t.Errorf("%d: got %v (class %v); want a permanent error saying it was redirected", status, err, class)
		}
		if err != nil && (strings.Contains(err.Error(), testAccessKey) || strings.Contains(err.Error(), testSecretKey)) {
			t.Errorf("%d: the error carries a key: %v", status, err)
		}
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests (with the keys)", n)
	}
}
