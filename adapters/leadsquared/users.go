package leadsquared

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// Users lists every LeadSquared user (Users.Get); Active is StatusCode 0.
func (c *Client) Users(ctx context.Context) ([]service.User, error) {
	var items []map[string]any
	if err := c.do(ctx, request{
		op: "Users.Get", method: http.MethodGet,
		path: "UserManagement.svc/Users.Get",
	}, &items); err != nil {
		return nil, err
	}
	out := make([]service.User, 0, len(items))
	for _, it := range items {
		if u := user(it); u.ID != "" {
			out = append(out, u)
		}
	}
	return out, nil
}

// UserByEmail returns the active user with that e-mail. LeadSquared answers
// [] for an unknown or inactive user: an error wrapping service.ErrNotFound.
func (c *Client) UserByEmail(ctx context.Context, email string) (service.User, error) {
	const op = "User.Retrieve.ByEmailAddress"
	var items []map[string]any
	if err := c.do(ctx, request{
		op: op, method: http.MethodGet,
		path:  "UserManagement.svc/User/Retrieve/ByEmailAddress",
		query: url.Values{"emailAddress": {email}},
	}, &items); err != nil {
		return service.User{}, err
	}
	for _, it := range items {
		if u := user(it); u.ID != "" {
			return u, nil
		}
	}
	return service.User{}, notFound(op, "user")
}

// user reads a user from Users.Get (ID) or the Retrieve calls (UserId).
func user(m map[string]any) service.User {
	u := service.User{
		ID:        cmp.Or(str(m["ID"]), str(m["UserId"]), str(m["Id"])),
		Email:     str(m["EmailAddress"]),
		FirstName: str(m["FirstName"]),
		LastName:  str(m["LastName"]),
		// Retrieve answers omit StatusCode and list active users only.
		Active: strings.TrimSpace(cmp.Or(str(m["StatusCode"]), "0")) == "0",
	}
	u.Name = strings.TrimSpace(u.FirstName + " " + u.LastName)
	return u
}
