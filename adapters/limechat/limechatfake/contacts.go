package limechatfake

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

type contact struct {
	id         int64
	name       string
	email      string
	phone      string
	identifier string
	custom     map[string]any
	sourceID   string
	createdAt  time.Time
}

// Chatwoot's validations: E.164 phone numbers and Devise's loose e-mail check.
var (
	e164       = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)
	emailShape = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
)

// contactSearchPageSize is Chatwoot's contacts page size.
const contactSearchPageSize = 15

// validationError is a 422 the API answers and a person method returns.
type validationError struct {
	message    string
	attributes []string
}

func (e *validationError) Error() string { return "limechatfake: " + e.message }

// addContactLocked validates and stores a contact like Chatwoot: e-mail
// downcased and unique in the account, phone E.164 and unique.
func (f *Fake) addContactLocked(in service.Contact) (*contact, error) {
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if email != "" && !emailShape.MatchString(email) {
		return nil, &validationError{"Email Invalid email", []string{"email"}}
	}
	if in.Phone != "" && !e164.MatchString(in.Phone) {
		return nil, &validationError{"Phone number should be in e164 format", []string{"phone_number"}}
	}
	for _, c := range f.contacts {
		if email != "" && c.email == email {
			return nil, &validationError{"Email has already been taken", []string{"email"}}
		}
		if in.Phone != "" && c.phone == in.Phone {
			return nil, &validationError{"Phone number has already been taken", []string{"phone_number"}}
		}
		if in.Identifier != "" && c.identifier == in.Identifier {
			return nil, &validationError{"Identifier has already been taken", []string{"identifier"}}
		}
	}
	f.nextContact++
	c := &contact{
		id:         f.nextContact,
		name:       cmp.Or(in.Name, fallbackName(email, in.Phone)),
		email:      email,
		phone:      in.Phone,
		identifier: in.Identifier,
		custom:     normalize(in.CustomAttributes),
		sourceID:   f.uuidLocked(),
		createdAt:  f.timestamp(),
	}
	f.contacts[c.id] = c
	return c, nil
}

// fallbackName is what Chatwoot shows for a contact created without a name.
func fallbackName(email, phone string) string {
	if email != "" {
		return strings.Split(email, "@")[0]
	}
	return phone
}

func (c *contact) toService() service.Contact {
	return service.Contact{
		ID: c.id, Name: c.name, Email: c.email, Phone: c.phone, Identifier: c.identifier,
		CustomAttributes: maps.Clone(c.custom),
	}
}

// matches is Chatwoot's contact search: name, email, phone number or
// identifier containing q, case-insensitively.
func (c *contact) matches(q string) bool {
	q = strings.ToLower(q)
	for _, v := range []string{c.name, c.email, c.phone, c.identifier} {
		if strings.Contains(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}

// handleSearchContacts serves GET /contacts/search?q=&page= → {meta, payload}.
func (f *Fake) handleSearchContacts(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var found []*contact
	for _, c := range f.contacts {
		if c.matches(q) {
			found = append(found, c)
		}
	}
	slices.SortFunc(found, func(a, b *contact) int { return cmp.Compare(a.id, b.id) })
	payload := []any{}
	for i := (page - 1) * contactSearchPageSize; i < len(found) && i < page*contactSearchPageSize; i++ {
		payload = append(payload, contactREST(found[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"meta":    map[string]any{"count": len(found), "current_page": strconv.Itoa(page)},
		"payload": payload,
	})
}

// handleGetContact serves GET /contacts/{id} → {payload: contact}.
func (f *Fake) handleGetContact(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.contacts[id]
	if !ok {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"payload": contactREST(c)})
}

// handleCreateContact serves POST /contacts → {payload:{contact, contact_inbox}}.
func (f *Fake) handleCreateContact(w http.ResponseWriter, r *http.Request) {
	var in struct {
		InboxID          int64          `json:"inbox_id"`
		Name             string         `json:"name"`
		Email            string         `json:"email"`
		PhoneNumber      string         `json:"phone_number"`
		Identifier       string         `json:"identifier"`
		CustomAttributes map[string]any `json:"custom_attributes"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.InboxID != 0 && in.InboxID != f.opts.InboxID {
		writeNotFound(w)
		return
	}
	c, err := f.addContactLocked(service.Contact{
		Name: in.Name, Email: in.Email, Phone: in.PhoneNumber, Identifier: in.Identifier,
		CustomAttributes: in.CustomAttributes,
	})
	var verr *validationError
	if errors.As(err, &verr) {
		writeUnprocessable(w, verr.message, verr.attributes...)
		return
	}
	contactInbox := map[string]any{"inbox": nil, "source_id": nil}
	if in.InboxID != 0 {
		contactInbox = map[string]any{"inbox": f.inboxJSON(), "source_id": c.sourceID}
	}
	writeJSON(w, http.StatusOK, map[string]any{"payload": map[string]any{
		"contact":       contactREST(c),
		"contact_inbox": contactInbox,
	}})
}

// Contacts returns every contact, by id.
func (f *Fake) Contacts() []service.Contact {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]service.Contact, 0, len(f.contacts))
	for _, c := range f.contacts {
		out = append(out, c.toService())
	}
	slices.SortFunc(out, func(a, b service.Contact) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// uuidLocked returns a uuid-shaped id from the fake's own repeatable source.
func (f *Fake) uuidLocked() string {
	a, b := f.ids.Uint64(), f.ids.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}
