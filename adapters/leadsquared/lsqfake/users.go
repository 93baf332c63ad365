package lsqfake

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// user is a LeadSquared user.
type user struct {
	ID, Email, FirstName, LastName, Role string
	Active                               bool
}

func (u *user) service() service.User {
	return service.User{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Name: strings.TrimSpace(u.FirstName + " " + u.LastName), Active: u.Active}
}

// AddUser adds an active Sales_User. The first user added is the "person"
// the person API acts as, and the default owner of leads it creates.
func (f *Fake) AddUser(email, first, last string) service.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addUserLocked(email, first, last, "Sales_User").service()
}

func (f *Fake) addUserLocked(email, first, last, role string) *user {
	u := &user{ID: f.newID(prefixUser), Email: email, FirstName: first, LastName: last, Role: role, Active: true}
	f.users = append(f.users, u)
	return u
}

// DeactivateUser marks a user inactive (StatusCode 1): Users.Get still lists
// it, User/Retrieve/ByEmailAddress no longer finds it, and it can no longer
// own records.
func (f *Fake) DeactivateUser(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.userByID(id)
	if u == nil {
		return fmt.Errorf("lsqfake: no user %q", id)
	}
	u.Active = false
	return nil
}

// APIUserID is the id of the user whose keys call the API (ModifiedBy of API writes).
func (f *Fake) APIUserID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apiUser
}

func (f *Fake) userByID(id string) *user {
	for _, u := range f.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (f *Fake) userByEmail(email string) *user {
	for _, u := range f.users {
		if strings.EqualFold(u.Email, email) {
			return u
		}
	}
	return nil
}

// person is the user the person API acts as: the first user added, else the API user.
func (f *Fake) person() string {
	for _, u := range f.users {
		if u.ID != f.apiUser {
			return u.ID
		}
	}
	return f.apiUser
}

// handleUsers answers Users.Get.
func (f *Fake) handleUsers(url.Values, []byte) reply {
	out := make([]map[string]any, 0, len(f.users))
	for _, u := range f.users {
		status := 0
		if !u.Active {
			status = 1
		}
		out = append(out, map[string]any{
			"ID": u.ID, "FirstName": u.FirstName, "LastName": u.LastName, "EmailAddress": u.Email,
			"Role": u.Role, "StatusCode": status, "MemberOfGroups": "", "Tag": "", "IsPhoneCallAgent": false,
		})
	}
	return ok(out)
}

// handleUserByEmail answers User/Retrieve/ByEmailAddress: [] for unknown or inactive users.
func (f *Fake) handleUserByEmail(q url.Values, _ []byte) reply {
	out := []map[string]any{}
	if u := f.userByEmail(param(q, "emailAddress")); u != nil && u.Active {
		out = append(out, map[string]any{
			"UserId": u.ID, "FirstName": u.FirstName, "LastName": u.LastName, "EmailAddress": u.Email,
			"Role": u.Role, "TimeZone": "Asia/Kolkata", "ManagerUserId": "", "Groups": []any{},
			"TeamId": "", "TeamName": "",
		})
	}
	return ok(out)
}
