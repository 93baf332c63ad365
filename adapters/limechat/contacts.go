package limechat

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lsqbridge/lsqbridge/service"
)

// maxPages bounds paging loops so a server that ignores ?page= cannot spin a call forever.
const maxPages = 40

// SearchContacts returns the contacts whose name, email, phone number or
// identifier contain q (GET /contacts/search; Chatwoot pages by 15, every
// page is read). Pass a phone in E.164 with its "+": the query is
// URL-encoded, so the "+" survives.
func (c *Client) SearchContacts(ctx context.Context, q string) ([]service.Contact, error) {
	var out []service.Contact
	for page := 1; page <= maxPages; page++ {
		var resp struct {
			Meta struct {
				Count flexInt `json:"count"`
			} `json:"meta"`
			Payload []contactJSON `json:"payload"`
		}
		query := url.Values{"q": {q}, "page": {strconv.Itoa(page)}}
		if err := c.do(ctx, call{op: "search contacts", method: http.MethodGet, path: "/contacts/search", query: query}, &resp); err != nil {
			return nil, err
		}
		for i := range resp.Payload {
			out = append(out, resp.Payload[i].contact())
		}
		if len(resp.Payload) == 0 || len(out) >= int(resp.Meta.Count) {
			break
		}
	}
	return out, nil
}

// Contact returns one contact (GET /contacts/{id}); a missing one is an
// error wrapping service.ErrNotFound.
func (c *Client) Contact(ctx context.Context, id int64) (service.Contact, error) {
	var resp struct {
		Payload contactJSON `json:"payload"`
	}
	if err := c.do(ctx, call{op: "get contact", method: http.MethodGet, path: "/contacts/" + strconv.FormatInt(id, 10)}, &resp); err != nil {
		return service.Contact{}, err
	}
	return resp.Payload.contact(), nil
}

// CreateContact creates a contact in the account and, when inboxID is not
// 0, its contact inbox (POST /contacts). Chatwoot refuses a duplicate e-mail
// or phone number in the account with a 422 (ClassPermanent, Attributes
// ["email"] or ["phone_number"]): look the contact up instead.
func (c *Client) CreateContact(ctx context.Context, inboxID int64, ct service.Contact) (service.Contact, error) {
	in := struct {
		InboxID          int64          `json:"inbox_id,omitempty"`
		Name             string         `json:"name,omitempty"`
		Email            string         `json:"email,omitempty"`
		PhoneNumber      string         `json:"phone_number,omitempty"`
		Identifier       string         `json:"identifier,omitempty"`
		CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
	}{inboxID, ct.Name, ct.Email, ct.Phone, ct.Identifier, ct.CustomAttributes}
	var resp struct {
		Payload struct {
			Contact contactJSON `json:"contact"`
		} `json:"payload"`
	}
	if err := c.do(ctx, call{op: "create contact", method: http.MethodPost, path: "/contacts", body: in, create: true}, &resp); err != nil {
		return service.Contact{}, err
	}
	return resp.Payload.Contact.contact(), nil
}
