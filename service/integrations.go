package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// ErrIntegrationNotFound is returned for an unknown integration id.
var ErrIntegrationNotFound = errors.New("integration not found")

// Integration is one customer with its secrets opened, as the engine and the
// relay use it. It never appears in logs: LogValue prints the id only.
type Integration struct {
	ID                    string
	Name                  string
	LeadSquaredURL        string
	LeadSquaredAccessKey  string
	LeadSquaredSecretKey  string
	RequestsPer5s         int
	LeadSquaredUserID     string
	LimeChatURL           string
	LimeChatAccountID     int64
	LimeChatInboxID       int64
	LimeChatToken         string
	LimeChatWebhookSecret string
	FlowBuilderURL        string
	FlowBuilderAccountID  string
	FlowBuilderKey        string
	// LinkSecret signs the opportunity form's page links. It is set only on
	// an integration admitted with its Dashboard App credential (see
	// Authenticate): derived from the master key and that credential's hash,
	// so rotating the app key voids every link, and the database alone
	// cannot forge one.
	LinkSecret           []byte
	Rules                Rules
	ConfigVersion        int32
	Disabled             bool
	CreatedAt, UpdatedAt time.Time
	// SyncSince is when the integration's scope begins: records created
	// (LeadSquared CreatedOn) since then are synced, older ones never are.
	// Set at creation; moved to the time of an apply that changes
	// sync.leads, sync.opportunities or sync.opportunity_types, or enables
	// the integration again.
	SyncSince time.Time
}

// LogValue keeps secrets out of structured logs.
func (i *Integration) LogValue() slog.Value { return slog.StringValue(i.ID) }

// String keeps secrets out of %v.
func (i *Integration) String() string { return "integration " + i.ID }

// Integrations stores integration configuration with sealed secrets.
type Integrations struct {
	pool   *pgxpool.Pool
	q      *db.Queries
	sealer *Sealer

	mu    sync.Mutex
	cache map[string]cachedIntegration
}

type cachedIntegration struct {
	in      *Integration
	fetched time.Time
}

// integrationCacheTTL bounds how long the relay and the reconciler may see
// an old configuration after `integration apply`. Requests do not wait for
// it: each one reads the integration's config_version with its credential
// and reloads a stale entry at once (Authenticate).
const integrationCacheTTL = 5 * time.Second

// NewIntegrations returns the integration store.
func NewIntegrations(pool *pgxpool.Pool, sealer *Sealer) *Integrations {
	return &Integrations{pool: pool, q: db.New(pool), sealer: sealer, cache: map[string]cachedIntegration{}}
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	ID            string
	Created       bool
	ConfigVersion int32
	// Credentials are the integration's new secrets, set only when it was
	// created: they are shown once and stored only as hashes. Re-applying
	// a configuration keeps the secrets it has.
	Credentials Credentials
}

// Apply creates or updates an integration from a resolved, validated config.
func (s *Integrations) Apply(ctx context.Context, cfg *IntegrationConfig) (ApplyResult, error) {
	rules, err := json.Marshal(cfg.Rules)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("encode rules: %w", err)
	}
	lsqURL, _ := NormalizeBaseURL(cfg.LeadSquared.Host)
	lcURL, _ := NormalizeBaseURL(cfg.LimeChat.BaseURL)
	fbURL := ""
	if cfg.FlowBuilder.URL != "" {
		fbURL, _ = NormalizeBaseURL(cfg.FlowBuilder.URL)
	}
	id := cfg.ID
	creds := newCredentials()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("store integration %s: %w", id, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	q := s.q.WithTx(tx)
	row, err := q.IntegrationUpsert(ctx, db.IntegrationUpsertParams{
		ID:                          id,
		Name:                        cfg.Name,
		LsqHost:                     lsqURL,
		LsqAccessKeySealed:          s.sealer.Seal(id, "lsq_access_key", cfg.LeadSquared.AccessKey),
		LsqSecretKeySealed:          s.sealer.Seal(id, "lsq_secret_key", cfg.LeadSquared.SecretKey),
		LsqRequestsPer5s:            int32(cfg.LeadSquared.RequestsPer5s),
		LsqUserID:                   cfg.LeadSquared.IntegrationUserID,
		LimechatBaseUrl:             lcURL,
		LimechatAccountID:           cfg.LimeChat.AccountID,
		LimechatInboxID:             cfg.LimeChat.InboxID,
		LimechatApiTokenSealed:      s.sealer.Seal(id, "limechat_api_token", cfg.LimeChat.APIToken),
		LimechatWebhookSecretSealed: s.sealer.Seal(id, "limechat_webhook_secret", cfg.LimeChat.WebhookSecret),
		FlowBuilderUrl:              fbURL,
		FlowBuilderAccountID:        cfg.FlowBuilder.AccountID,
		FlowBuilderKeySealed:        s.sealer.Seal(id, "flow_builder_key", cfg.FlowBuilder.Key),
		// The pre-00010 shared token column is kept (expand only) but a new
		// integration has no shared token: the hash of a secret nobody is
		// shown, and every power gets its own credential below.
		WebhookTokenHash: HashToken(NewCredential("unused")),
		Rules:            rules,
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("store integration %s: %w", id, err)
	}
	if row.Created {
		for _, p := range Powers {
			if err := q.CredentialCreate(ctx, db.CredentialCreateParams{IntegrationID: id, Power: string(p), SecretHash: HashToken(creds.Get(p))}); err != nil {
				return ApplyResult{}, fmt.Errorf("store the %s credential of %s: %w", p, id, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return ApplyResult{}, fmt.Errorf("store integration %s: %w", id, err)
	}
	s.forget(id)
	res := ApplyResult{ID: row.ID, Created: row.Created, ConfigVersion: row.ConfigVersion}
	if row.Created {
		res.Credentials = creds
	}
	return res, nil
}

// Get returns an integration with its secrets opened. It caches for a few
// seconds because every webhook needs it.
func (s *Integrations) Get(ctx context.Context, id string) (*Integration, error) {
	s.mu.Lock()
	c, ok := s.cache[id]
	s.mu.Unlock()
	if ok && time.Since(c.fetched) < integrationCacheTTL {
		return c.in, nil
	}
	row, err := s.q.IntegrationGet(ctx, id)
	if db.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s", ErrIntegrationNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("load integration %s: %w", id, err)
	}
	in, err := s.fromRow(row)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[id] = cachedIntegration{in: in, fetched: time.Now()}
	s.mu.Unlock()
	return in, nil
}

// getVersion returns the integration at config_version version: the cached
// one when it has that version, however old the entry, else a fresh read.
func (s *Integrations) getVersion(ctx context.Context, id string, version int32) (*Integration, error) {
	s.mu.Lock()
	c, ok := s.cache[id]
	s.mu.Unlock()
	if ok && c.in.ConfigVersion == version {
		return c.in, nil
	}
	s.forget(id)
	return s.Get(ctx, id)
}

// Forget drops the cached copy of an integration, so the next Get reads
// it again (after its row was changed other than by Apply).
func (s *Integrations) Forget(id string) { s.forget(id) }

func (s *Integrations) forget(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}

func (s *Integrations) fromRow(r db.Integration) (*Integration, error) {
	in := &Integration{
		ID: r.ID, Name: r.Name, LeadSquaredURL: r.LsqHost, RequestsPer5s: int(r.LsqRequestsPer5s),
		LeadSquaredUserID: r.LsqUserID, LimeChatURL: r.LimechatBaseUrl, LimeChatAccountID: r.LimechatAccountID,
		LimeChatInboxID: r.LimechatInboxID, FlowBuilderURL: r.FlowBuilderUrl, FlowBuilderAccountID: r.FlowBuilderAccountID,
		ConfigVersion: r.ConfigVersion, Disabled: r.DisabledAt != nil,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, SyncSince: r.SyncSince.UTC(),
	}
	if err := json.Unmarshal(r.Rules, &in.Rules); err != nil {
		return nil, fmt.Errorf("decode rules of %s: %w", r.ID, err)
	}
	open := []struct {
		col    string
		sealed []byte
		dst    *string
	}{
		{"lsq_access_key", r.LsqAccessKeySealed, &in.LeadSquaredAccessKey},
		{"lsq_secret_key", r.LsqSecretKeySealed, &in.LeadSquaredSecretKey},
		{"limechat_api_token", r.LimechatApiTokenSealed, &in.LimeChatToken},
		{"limechat_webhook_secret", r.LimechatWebhookSecretSealed, &in.LimeChatWebhookSecret},
		{"flow_builder_key", r.FlowBuilderKeySealed, &in.FlowBuilderKey},
	}
	for _, o := range open {
		v, err := s.sealer.Open(r.ID, o.col, o.sealed)
		if err != nil {
			return nil, err
		}
		*o.dst = v
	}
	return in, nil
}

// IntegrationSummary is what `integration list` and `show` print: no secrets.
type IntegrationSummary struct {
	ID                   string `json:"id"`
	Name                 string `json:"name"`
	LeadSquaredURL       string `json:"leadsquared_url"`
	RequestsPer5s        int    `json:"requests_per_5s"`
	LimeChatURL          string `json:"limechat_url"`
	LimeChatAccountID    int64  `json:"limechat_account_id"`
	LimeChatInboxID      int64  `json:"limechat_inbox_id"`
	LimeChatSigned       bool   `json:"limechat_webhooks_signed"`
	FlowBuilderURL       string `json:"flow_builder_url,omitempty"`
	FlowBuilderAccountID string `json:"flow_builder_account_id,omitempty"`
	Rules                Rules  `json:"rules"`
	ConfigVersion        int32  `json:"config_version"`
	Disabled             bool   `json:"disabled"`
	PausedUntil          string `json:"leadsquared_paused_until,omitempty"`
	UpdatedAt            string `json:"updated_at"`
	// SyncSince: records created since then are in scope (Integration.SyncSince).
	SyncSince string `json:"sync_since"`
	// Credentials says, per power, whether it has its own secret yet.
	Credentials []CredentialState `json:"credentials"`
}

func summary(r db.Integration) (IntegrationSummary, error) {
	s := IntegrationSummary{
		ID: r.ID, Name: r.Name, LeadSquaredURL: r.LsqHost, RequestsPer5s: int(r.LsqRequestsPer5s),
		LimeChatURL: r.LimechatBaseUrl, LimeChatAccountID: r.LimechatAccountID, LimeChatInboxID: r.LimechatInboxID,
		LimeChatSigned: len(r.LimechatWebhookSecretSealed) > 0, FlowBuilderURL: r.FlowBuilderUrl,
		FlowBuilderAccountID: r.FlowBuilderAccountID, ConfigVersion: r.ConfigVersion, Disabled: r.DisabledAt != nil,
		UpdatedAt: r.UpdatedAt.UTC().Format(time.RFC3339), SyncSince: r.SyncSince.UTC().Format(time.RFC3339),
	}
	if r.LsqPausedUntil != nil && r.LsqPausedUntil.After(time.Now()) {
		s.PausedUntil = r.LsqPausedUntil.UTC().Format(time.RFC3339)
	}
	if err := json.Unmarshal(r.Rules, &s.Rules); err != nil {
		return s, fmt.Errorf("decode rules of %s: %w", r.ID, err)
	}
	return s, nil
}

// List returns every integration without secrets.
func (s *Integrations) List(ctx context.Context) ([]IntegrationSummary, error) {
	rows, err := s.q.IntegrationList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	creds, err := s.credentialStates(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := make([]IntegrationSummary, 0, len(rows))
	for _, r := range rows {
		sm, err := summary(r)
		if err != nil {
			return nil, err
		}
		sm.Credentials = creds[r.ID]
		out = append(out, sm)
	}
	return out, nil
}

// Show returns one integration without secrets.
func (s *Integrations) Show(ctx context.Context, id string) (IntegrationSummary, error) {
	r, err := s.q.IntegrationGet(ctx, id)
	if db.IsNotFound(err) {
		return IntegrationSummary{}, fmt.Errorf("%w: %s", ErrIntegrationNotFound, id)
	}
	if err != nil {
		return IntegrationSummary{}, fmt.Errorf("load integration %s: %w", id, err)
	}
	sm, err := summary(r)
	if err != nil {
		return sm, err
	}
	creds, err := s.credentialStates(ctx, []db.Integration{r})
	sm.Credentials = creds[r.ID]
	return sm, err
}

// Disable stops all sync for an integration: every route refuses its
// requests from the next one on, in every process (each request reads the
// integration's state), and the relay claims none of its actions.
// `integration apply` enables it again.
func (s *Integrations) Disable(ctx context.Context, id string) error {
	n, err := s.q.IntegrationDisable(ctx, id)
	if err != nil {
		return fmt.Errorf("disable %s: %w", id, err)
	}
	if n == 0 {
		if _, err := s.Show(ctx, id); err != nil {
			return err
		}
	}
	s.forget(id)
	return nil
}

// DeleteIntegration deletes an integration and everything of it (links,
// events, actions, credentials, agents). Only the sandbox uses it, to start
// its demo integration afresh; a customer's integration is disabled instead.
func DeleteIntegration(ctx context.Context, pool *pgxpool.Pool, id string) error {
	if err := db.New(pool).IntegrationDelete(ctx, id); err != nil {
		return fmt.Errorf("delete integration %s: %w", id, err)
	}
	return nil
}
