package service

import (
	"context"
	"fmt"
	"time"
)

// The directory changes when people join or leave a team; it is read on
// every event and every delivery. A snapshot per integration is kept in
// memory and read again after cacheTTL, after a refresh in this process,
// and on a miss (Lookup's caller refreshes the directory on a miss, which
// also drops the snapshot): a person added in another process is seen
// within cacheTTL, or at once when an event names them.
const cacheTTL = 15 * time.Second

// snapshot is one integration's directory, by each platform's id and by e-mail.
type snapshot struct {
	at      time.Time
	byUser  map[string]Agent
	byAgent map[int64]Agent
	byEmail map[string]Agent
}

func (s *snapshot) ByLeadSquaredUser(id string) (Agent, bool) {
	a, ok := s.byUser[id]
	return a, ok && id != ""
}

func (s *snapshot) ByLimeChatAgent(id int64) (Agent, bool) {
	a, ok := s.byAgent[id]
	return a, ok && id != 0
}

func (s *snapshot) ByEmail(email string) (Agent, bool) {
	a, ok := s.byEmail[email]
	return a, ok && email != ""
}

// Lookup returns the integration's directory as a Directory, from the
// in-memory snapshot when it is fresh.
func (d *AgentDirectory) Lookup(ctx context.Context, integration string) (Directory, error) {
	d.mu.Lock()
	s := d.snaps[integration]
	d.mu.Unlock()
	if s != nil && time.Since(s.at) < cacheTTL {
		return s, nil
	}
	rows, err := d.q.AgentList(ctx, integration)
	if err != nil {
		return nil, fmt.Errorf("read agent directory: %w", err)
	}
	s = &snapshot{at: time.Now(), byUser: map[string]Agent{}, byAgent: map[int64]Agent{}, byEmail: map[string]Agent{}}
	for _, r := range rows {
		a := agentFromRow(r)
		s.byEmail[r.Email] = a
		// An inactive person is found (agentFromRow leaves out the id of
		// the side where they are inactive), as the per-row queries did.
		if r.LsqUserID != nil {
			s.byUser[*r.LsqUserID] = a
		}
		if r.LimechatAgentID != nil {
			s.byAgent[*r.LimechatAgentID] = a
		}
	}
	d.mu.Lock()
	d.snaps[integration] = s
	d.mu.Unlock()
	return s, nil
}

// forget drops an integration's snapshot (after a refresh).
func (d *AgentDirectory) forget(integration string) {
	d.mu.Lock()
	delete(d.snaps, integration)
	d.mu.Unlock()
}

var _ Directory = (*snapshot)(nil)
