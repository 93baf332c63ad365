package leadsquared

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// attribute is LeadSquared's lead field pair ({"Attribute":…,"Value":…}).
type attribute struct {
	Attribute string `json:"Attribute"`
	Value     string `json:"Value"`
}

// schemaValue is the opportunity and activity field pair ({"SchemaName":…,"Value":…}).
type schemaValue struct {
	SchemaName string `json:"SchemaName"`
	Value      string `json:"Value"`
}

// attributes turns fields into LeadSquared's array, sorted for stable requests.
func attributes(fields map[string]string) []attribute {
	out := make([]attribute, 0, len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		out = append(out, attribute{Attribute: k, Value: fields[k]})
	}
	return out
}

// schemaValues turns fields into the opportunity/activity array, sorted.
func schemaValues(fields map[string]string) []schemaValue {
	out := make([]schemaValue, 0, len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		out = append(out, schemaValue{SchemaName: k, Value: fields[k]})
	}
	return out
}

// str renders any decoded JSON value as LeadSquared would have it as a
// string: strings as they are, numbers in their JSON text, booleans as
// true/false, null as "", objects and arrays as compact JSON.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// first returns the first non-empty value among keys (exact spelling first,
// then case-insensitively, since LeadSquared spells ProspectID/ProspectId both ways).
func first(fields map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := fields[k]; v != "" {
			return v
		}
	}
	for _, k := range keys {
		for fk, v := range fields {
			if v != "" && strings.EqualFold(fk, k) {
				return v
			}
		}
	}
	return ""
}

// Keys that identify records and owners, in the order they are looked up.
var (
	leadIDKeys         = []string{"ProspectID", "ProspectId", "LeadId", "LeadID"}
	opportunityIDKeys  = []string{"OpportunityId", "ProspectOpportunityId", "ProspectActivityId"}
	relatedLeadKeys    = []string{"RelatedProspectId", "ProspectId", "ProspectID", "LeadId"}
	ownerEmailKeys     = []string{"OwnerIdEmailAddress", "OwnerEmailAddress"}
	opportunityTypeKey = []string{"OpportunityEventCode", "ActivityEvent", "EventCode"}
)

// leadRecord builds a lead Record from its flat fields.
func leadRecord(fields map[string]string) service.Record {
	id := first(fields, leadIDKeys...)
	return service.Record{
		Kind:       service.KindLead,
		ID:         id,
		LeadID:     id,
		OwnerID:    first(fields, "OwnerId"),
		OwnerEmail: first(fields, ownerEmailKeys...),
		ModifiedBy: first(fields, "ModifiedBy"),
		ModifiedOn: parseOrZero(first(fields, "ModifiedOn")),
		CreatedOn:  parseOrZero(first(fields, "CreatedOn")),
		Fields:     fields,
	}
}

// opportunityRecord builds an opportunity Record from its flat fields.
func opportunityRecord(fields map[string]string) service.Record {
	code, _ := strconv.Atoi(strings.TrimSpace(first(fields, opportunityTypeKey...)))
	return service.Record{
		Kind:            service.KindOpportunity,
		ID:              first(fields, opportunityIDKeys...),
		LeadID:          first(fields, relatedLeadKeys...),
		OwnerID:         first(fields, "Owner", "OwnerId"),
		OwnerEmail:      first(fields, ownerEmailKeys...),
		ModifiedBy:      first(fields, "ModifiedBy"),
		ModifiedOn:      parseOrZero(first(fields, "ModifiedOn")),
		CreatedOn:       parseOrZero(first(fields, "CreatedOn")),
		OpportunityType: code,
		Fields:          fields,
	}
}

// flatStrings converts a flat JSON object into string fields.
func flatStrings(obj map[string]any) map[string]string {
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		out[k] = str(v)
	}
	return out
}
