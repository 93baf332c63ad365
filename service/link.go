package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lsqbridge/lsqbridge/db"
)

// Link states.
const (
	LinkPendingTicket = "pending_ticket"
	LinkActive        = "active"
	LinkUnlinked      = "unlinked"
)

// Link origins.
const (
	OriginLeadSquared = "leadsquared"
	OriginForm        = "form"
	OriginAutomation  = "automation"
)

// Link is the registry row tying one record to one ticket, with the last
// synced state of both sides: what decide compares events against.
type Link struct {
	IntegrationID string
	ID            int64
	Kind          RecordKind
	RecordID      string
	LeadID        string
	// TicketID is 0 until the create_ticket action has made the ticket.
	TicketID  int64
	ContactID int64
	// OwnerEmail is the lower-cased e-mail of the record's owner, which is
	// also the ticket's assigned agent once synced.
	OwnerEmail string
	// OwnerChangedAt is the source time of the last owner/agent change on
	// either side; an older change from the other side loses.
	OwnerChangedAt time.Time
	Labels         []string
	// Fields holds the watched record fields as last synced.
	Fields map[string]string
	// LeadSquaredSeenAt and LimeChatSeenAt are the newest source timestamps
	// applied from each side; older events are stale.
	LeadSquaredSeenAt time.Time
	LimeChatSeenAt    time.Time
	State             string
	Origin            string
	Paused            bool
	PausedReason      string
	// Written is what the relay last wrote to each side (links.written).
	Written map[string]Written
	// Seen is the source time of the newest applied change per attribute.
	Seen map[string]time.Time
	// FuseStart and FuseCount are the loop fuse's window and the actions
	// enqueued for the link within it.
	FuseStart time.Time
	FuseCount int
	// SharesTicket is set when the link was locked by its ticket and another
	// link (of the other record kind) has that ticket too (shared.go).
	SharesTicket bool
}

func (l *Link) clone() *Link {
	c := *l
	c.Labels = slices.Clone(l.Labels)
	c.Fields = maps.Clone(l.Fields)
	c.Written = maps.Clone(l.Written)
	c.Seen = maps.Clone(l.Seen)
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	if c.Written == nil {
		c.Written = map[string]Written{}
	}
	if c.Seen == nil {
		c.Seen = map[string]time.Time{}
	}
	return &c
}

func linkFromRow(r db.Link) (*Link, error) {
	l := &Link{
		IntegrationID: r.IntegrationID, ID: r.ID, Kind: RecordKind(r.RecordKind), RecordID: r.RecordID,
		LeadID: r.LeadID, OwnerEmail: r.OwnerEmail, Labels: r.Labels, State: r.State, Origin: r.Origin,
		Paused: r.PausedAt != nil, PausedReason: r.PausedReason,
	}
	if r.TicketID != nil {
		l.TicketID = *r.TicketID
	}
	if r.ContactID != nil {
		l.ContactID = *r.ContactID
	}
	l.OwnerChangedAt = deref(r.OwnerChangedAt)
	l.FuseStart, l.FuseCount = deref(r.FuseWindowStart), int(r.FuseCount)
	l.LeadSquaredSeenAt = deref(r.LsqSeenAt)
	l.LimeChatSeenAt = deref(r.LimechatSeenAt)
	if err := json.Unmarshal(r.Fields, &l.Fields); err != nil {
		return nil, fmt.Errorf("decode fields of link %d: %w", r.ID, err)
	}
	if l.Fields == nil {
		l.Fields = map[string]string{}
	}
	if err := json.Unmarshal(r.Written, &l.Written); err != nil {
		return nil, fmt.Errorf("decode written of link %d: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.Seen, &l.Seen); err != nil {
		return nil, fmt.Errorf("decode seen of link %d: %w", r.ID, err)
	}
	if l.Labels == nil {
		l.Labels = []string{}
	}
	return l, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func ptrTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func ptrInt(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

// ErrLinkNotPaused is returned by UnpauseLink for a link that is not paused.
var ErrLinkNotPaused = errors.New("the link is not paused")

// UnpauseLink lets a link the loop fuse paused sync again. Events that came
// while it was paused were recorded (outcome paused) but not applied; the
// next reconcile pass brings both sides back to agreement.
func UnpauseLink(ctx context.Context, pool *pgxpool.Pool, integration string, id int64) error {
	n, err := db.New(pool).LinkUnpause(ctx, db.LinkUnpauseParams{IntegrationID: integration, ID: id})
	if err != nil {
		return fmt.Errorf("unpause link %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("link %d of %s: %w (or does not exist)", id, integration, ErrLinkNotPaused)
	}
	return nil
}
