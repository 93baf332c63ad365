package limechat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// This file holds the Chatwoot JSON shapes shared by the REST client and the
// webhook parser (a webhook's push_data and the REST conversation partial are
// nearly the same object). Decoding is tolerant of what Chatwoot versions
// disagree on: ids as numbers or strings, timestamps as unix seconds (int or
// float) or RFC 3339 strings, nulls anywhere.

// flexInt decodes a JSON number, a numeric string or null (as 0).
type flexInt int64

// UnmarshalJSON accepts 12, 12.0, "12" and null.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = 0
			return nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<53 {
		return fmt.Errorf("not an integer id: %.40q", s)
	}
	*f = flexInt(v)
	return nil
}

// flexTime decodes unix seconds (int, float or numeric string, kept to the
// microsecond exactly as written) or an RFC 3339 string; null or "" is zero.
type flexTime struct{ time.Time }

// UnmarshalJSON accepts 1717243200, 1717243200.123456, "1717243200" and
// "2024-06-01T12:00:00.123Z".
func (f *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	f.Time = time.Time{}
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			f.Time = t.UTC()
			return nil
		}
	}
	t, err := parseUnixDecimal(s)
	if err != nil {
		return err
	}
	f.Time = t
	return nil
}

// parseUnixDecimal reads "seconds[.fraction]" without float rounding, so
// Chatwoot's updated_at.to_f keeps its microseconds.
func parseUnixDecimal(s string) (time.Time, error) {
	bad := fmt.Errorf("not a timestamp: %.40q", s)
	if strings.ContainsAny(s, "eE") { // exponent form: rare, accept with float precision
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxUnix {
			return time.Time{}, bad
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), nil
	}
	intPart, fracPart, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || sec < -maxUnix || sec > maxUnix {
		return time.Time{}, bad
	}
	var nsec int64
	if fracPart != "" {
		if len(fracPart) > 9 {
			fracPart = fracPart[:9]
		}
		n, err := strconv.ParseUint(fracPart, 10, 64)
		if err != nil {
			return time.Time{}, bad
		}
		nsec = int64(n)
		for range 9 - len(fracPart) {
			nsec *= 10
		}
		if strings.HasPrefix(intPart, "-") {
			nsec = -nsec
		}
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// maxUnix bounds accepted timestamps (year 5138) so nonsense stays an error.
const maxUnix = 1e11

// contactJSON is a Chatwoot contact (REST partial or webhook meta.sender).
type contactJSON struct {
	ID               flexInt        `json:"id"`
	Name             string         `json:"name"`
	Email            string         `json:"email"`
	PhoneNumber      string         `json:"phone_number"`
	Identifier       string         `json:"identifier"`
	CustomAttributes map[string]any `json:"custom_attributes"`
}

func (c *contactJSON) contact() service.Contact {
	if c == nil {
		return service.Contact{CustomAttributes: map[string]any{}}
	}
	return service.Contact{
		ID:               int64(c.ID),
		Name:             c.Name,
		Email:            c.Email,
		Phone:            c.PhoneNumber,
		Identifier:       c.Identifier,
		CustomAttributes: nonNilMap(c.CustomAttributes),
	}
}

// agentJSON is a Chatwoot agent: the REST partial has email and confirmed,
// a webhook's meta.assignee has neither.
type agentJSON struct {
	ID            flexInt `json:"id"`
	Name          string  `json:"name"`
	AvailableName string  `json:"available_name"`
	Email         string  `json:"email"`
	Confirmed     bool    `json:"confirmed"`
	Role          string  `json:"role"`
}

func (a *agentJSON) user() service.User {
	return service.User{
		ID:     strconv.FormatInt(int64(a.ID), 10),
		Email:  a.Email,
		Name:   a.Name,
		Active: a.Confirmed,
	}
}

// conversationJSON is a Chatwoot conversation: the REST partial
// (GET /conversations/{id}, filter results) or a webhook's push_data.
type conversationJSON struct {
	ID               flexInt        `json:"id"`
	AccountID        flexInt        `json:"account_id"`
	Account          *accountJSON   `json:"account"`
	InboxID          flexInt        `json:"inbox_id"`
	Status           string         `json:"status"`
	Labels           []string       `json:"labels"`
	CustomAttributes map[string]any `json:"custom_attributes"`
	Meta             struct {
		Sender   *contactJSON `json:"sender"`
		Assignee *agentJSON   `json:"assignee"`
	} `json:"meta"`
	Messages  []messageJSON `json:"messages"`
	UpdatedAt flexTime      `json:"updated_at"`
	Timestamp flexTime      `json:"timestamp"`
}

type accountJSON struct {
	ID flexInt `json:"id"`
}

type messageJSON struct {
	AccountID flexInt `json:"account_id"`
}

// ticket normalizes the conversation. The account id comes from the
// top-level account_id or account.id when present, else from the messages
// (Chatwoot's push_data has no top-level account).
func (c *conversationJSON) ticket() service.Ticket {
	t := service.Ticket{
		ID:               int64(c.ID),
		AccountID:        int64(c.AccountID),
		InboxID:          int64(c.InboxID),
		Status:           c.Status,
		Labels:           nonNilLabels(c.Labels),
		CustomAttributes: nonNilMap(c.CustomAttributes),
		Contact:          c.Meta.Sender.contact(),
		UpdatedAt:        c.UpdatedAt.Time,
	}
	if t.AccountID == 0 && c.Account != nil {
		t.AccountID = int64(c.Account.ID)
	}
	for _, m := range c.Messages {
		if t.AccountID != 0 {
			break
		}
		t.AccountID = int64(m.AccountID)
	}
	if a := c.Meta.Assignee; a != nil {
		t.AssigneeID = int64(a.ID)
		t.AssigneeEmail = a.Email
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = c.Timestamp.Time
	}
	return t
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nonNilLabels(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
