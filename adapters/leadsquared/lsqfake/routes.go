package lsqfake

import (
	"net/http"
	"net/url"
	"strings"
)

// route is one endpoint: its method and handler (run with f.mu held).
type route struct {
	method string
	handle func(f *Fake, q url.Values, body []byte) reply
}

// routes maps lower-cased "<Service>.svc/<Method>" paths (WCF matches them
// case-insensitively) to handlers: exactly the calls lsqbridge's client makes.
var routes = func() map[string]route {
	m := map[string]route{
		"LeadManagement.svc/Leads.GetById":                             {http.MethodGet, (*Fake).handleGetLead},
		"LeadManagement.svc/RetrieveLeadByPhoneNumber":                 {http.MethodGet, (*Fake).handleLeadByPhone},
		"LeadManagement.svc/Leads.GetByEmailaddress":                   {http.MethodGet, (*Fake).handleLeadByEmail},
		"LeadManagement.svc/Lead.Create":                               {http.MethodPost, (*Fake).handleCreateLead},
		"LeadManagement.svc/Lead.Update":                               {http.MethodPost, (*Fake).handleUpdateLead},
		"LeadManagement.svc/LeadsMetaData.Get":                         {http.MethodGet, (*Fake).handleLeadMetadata},
		"LeadManagement.svc/Leads.RecentlyModified":                    {http.MethodPost, (*Fake).handleRecentlyModified},
		"UserManagement.svc/Users.Get":                                 {http.MethodGet, (*Fake).handleUsers},
		"UserManagement.svc/User/Retrieve/ByEmailAddress":              {http.MethodGet, (*Fake).handleUserByEmail},
		"OpportunityManagement.svc/Capture":                            {http.MethodPost, (*Fake).handleCapture},
		"OpportunityManagement.svc/Update":                             {http.MethodPost, (*Fake).handleUpdateOpp},
		"OpportunityManagement.svc/GetOpportunityDetails":              {http.MethodGet, (*Fake).handleGetOpp},
		"OpportunityManagement.svc/GetOpportunitiesOfLead":             {http.MethodPost, (*Fake).handleOppsOfLead},
		"OpportunityManagement.svc/GetOpportunityTypeMetadata":         {http.MethodGet, (*Fake).handleOpportunityTypeMetadata},
		"ProspectActivity.svc/Create":                                  {http.MethodPost, (*Fake).handlePostActivity},
		"ProspectActivity.svc/Bulk/CustomActivity/Add/ByOpportunityId": {http.MethodPost, (*Fake).handlePostOppActivities},
		"ProspectActivity.svc/Retrieve":                                {http.MethodPost, (*Fake).handleLeadActivities},
		"ProspectActivity.svc/ActivityTypes.Get":                       {http.MethodGet, (*Fake).handleActivityTypes},
	}
	out := make(map[string]route, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}()
