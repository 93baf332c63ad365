package service

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// AgentDirectory keeps the e-mail map between LeadSquared users and
// LimeChat agents, the only identity the two platforms share.
type AgentDirectory struct {
	pool      *pgxpool.Pool
	q         *db.Queries
	platforms Platforms
	metrics   *Metrics
	log       *slog.Logger
	// MinInterval rate-limits refreshes per integration (default 30s).
	minInterval time.Duration

	mu    sync.Mutex
	last  map[string]time.Time
	snaps map[string]*snapshot
}

// NewAgentDirectory returns the directory.
func NewAgentDirectory(pool *pgxpool.Pool, platforms Platforms, metrics *Metrics, log *slog.Logger, minInterval time.Duration) *AgentDirectory {
	if minInterval <= 0 {
		minInterval = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AgentDirectory{pool: pool, q: db.New(pool), platforms: platforms, metrics: metrics, log: log,
		minInterval: minInterval, last: map[string]time.Time{}, snaps: map[string]*snapshot{}}
}

// RefreshStats counts what a refresh saw.
type RefreshStats struct {
	LeadSquaredUsers int
	LimeChatAgents   int
	Matched          int
}

// Refresh reads both platforms' people and stores them by e-mail.
func (d *AgentDirectory) Refresh(ctx context.Context, in *Integration) (RefreshStats, error) {
	d.mu.Lock()
	d.last[in.ID] = time.Now()
	d.mu.Unlock()
	c := d.platforms.For(in)
	users, err := c.LeadSquared.Users(ctx)
	if err != nil {
		d.metrics.refresh("error")
		return RefreshStats{}, fmt.Errorf("list LeadSquared users: %w", err)
	}
	agents, err := c.LimeChat.Agents(ctx)
	if err != nil {
		d.metrics.refresh("error")
		return RefreshStats{}, fmt.Errorf("list LimeChat agents: %w", err)
	}
	st := RefreshStats{LeadSquaredUsers: len(users), LimeChatAgents: len(agents)}
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		for _, u := range users {
			email := strings.ToLower(strings.TrimSpace(u.Email))
			if email == "" || u.ID == "" {
				continue
			}
			id := u.ID
			if err := q.AgentClearLeadSquaredUser(ctx, db.AgentClearLeadSquaredUserParams{IntegrationID: in.ID, LsqUserID: &id, Email: email}); err != nil {
				return err
			}
			if err := q.AgentUpsertLeadSquared(ctx, db.AgentUpsertLeadSquaredParams{IntegrationID: in.ID, Email: email,
				LsqUserID: &id, LsqName: displayName(u), LsqActive: u.Active}); err != nil {
				return err
			}
		}
		for _, a := range agents {
			email := strings.ToLower(strings.TrimSpace(a.Email))
			id, err := strconv.ParseInt(a.ID, 10, 64)
			if email == "" || err != nil {
				continue
			}
			if err := q.AgentClearLimeChatAgent(ctx, db.AgentClearLimeChatAgentParams{IntegrationID: in.ID, LimechatAgentID: &id, Email: email}); err != nil {
				return err
			}
			if err := q.AgentUpsertLimeChat(ctx, db.AgentUpsertLimeChatParams{IntegrationID: in.ID, Email: email,
				LimechatAgentID: &id, LimechatName: displayName(a), LimechatActive: a.Active}); err != nil {
				return err
			}
		}
		return nil
	})
	d.forget(in.ID)
	if err != nil {
		d.metrics.refresh("error")
		return st, fmt.Errorf("store agent directory: %w", err)
	}
	rows, err := d.q.AgentList(ctx, in.ID)
	if err == nil {
		for _, r := range rows {
			if r.LsqUserID != nil && r.LimechatAgentID != nil {
				st.Matched++
			}
		}
	}
	d.metrics.refresh("ok")
	d.log.Info("agent directory refreshed", "integration", in.ID, "leadsquared_users", st.LeadSquaredUsers,
		"limechat_agents", st.LimeChatAgents, "matched", st.Matched)
	return st, nil
}

// RefreshIfDue refreshes unless the integration was refreshed within the
// minimum interval (a burst of misses costs the platforms one call each).
func (d *AgentDirectory) RefreshIfDue(ctx context.Context, in *Integration) error {
	d.mu.Lock()
	due := time.Since(d.last[in.ID]) >= d.minInterval
	if due {
		d.last[in.ID] = time.Now()
	}
	d.mu.Unlock()
	if !due {
		return nil
	}
	_, err := d.Refresh(ctx, in)
	return err
}

// missing reports whether ev names a person the directory does not know.
func (d *AgentDirectory) missing(ctx context.Context, integration string, ev Event) bool {
	dir, err := d.Lookup(ctx, integration)
	if err != nil {
		return false // the event's own transaction will fail and say why
	}
	switch {
	case ev.Record != nil && ev.Record.OwnerID != "":
		_, ok := dir.ByLeadSquaredUser(ev.Record.OwnerID)
		return !ok
	case ev.Ticket != nil && ev.Ticket.AssigneeID != 0:
		_, ok := dir.ByLimeChatAgent(ev.Ticket.AssigneeID)
		return !ok
	}
	return false
}

// AgentEntry is one directory row as a person reviewing the map sees it:
// unlike Agent, it keeps inactive people and both sides' names, so a
// listing can say who is on one side only or switched off. An empty
// LeadSquaredUserID or a zero LimeChatAgentID means that side lacks them.
type AgentEntry struct {
	Email             string
	LeadSquaredUserID string
	LeadSquaredName   string
	LeadSquaredActive bool
	LimeChatAgentID   int64
	LimeChatName      string
	LimeChatActive    bool
	// RefreshedAt is when a refresh last wrote the row.
	RefreshedAt time.Time
}

func entryFromRow(r db.Agent) AgentEntry {
	e := AgentEntry{Email: r.Email, LeadSquaredName: r.LsqName, LeadSquaredActive: r.LsqActive,
		LimeChatName: r.LimechatName, LimeChatActive: r.LimechatActive, RefreshedAt: r.RefreshedAt}
	if r.LsqUserID != nil {
		e.LeadSquaredUserID = *r.LsqUserID
	}
	if r.LimechatAgentID != nil {
		e.LimeChatAgentID = *r.LimechatAgentID
	}
	return e
}

// List returns the directory of an integration, in the query's order (by
// e-mail), inactive people included.
func (d *AgentDirectory) List(ctx context.Context, integration string) ([]AgentEntry, error) {
	rows, err := d.q.AgentList(ctx, integration)
	if err != nil {
		return nil, err
	}
	out := make([]AgentEntry, len(rows))
	for i, r := range rows {
		out[i] = entryFromRow(r)
	}
	return out, nil
}

func displayName(u User) string {
	if u.Name != "" {
		return u.Name
	}
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}
