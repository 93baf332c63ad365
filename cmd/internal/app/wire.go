package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// wire builds the sync engine, the relay, the webhook handlers, the
// opportunity form API, the agent page and the automation handler.
func (a *App) wire(cfg Config, reg *prometheus.Registry, h *httpapi.Config) error {
	sealer, err := service.NewSealer(cfg.MasterKey)
	if err != nil {
		return err
	}
	a.Integrations = service.NewIntegrations(a.pool, sealer)
	platforms := NewPlatforms(cfg.AllowLoopback)
	metrics := service.NewMetrics(reg)
	a.Agents = service.NewAgentDirectory(a.pool, platforms, metrics, a.log, 30*time.Second)
	notifier := outbox.NewNotifier(a.pool, 5*time.Millisecond, a.log)
	a.Sync = service.NewSync(a.pool, service.SyncConfig{Agents: a.Agents, Notify: notifier.Notify, Metrics: metrics, Logger: a.log})
	pacer := service.NewSharedPacer(a.pool)
	deliverer := service.NewDeliverer(a.pool, a.Integrations, platforms, pacer, a.log).WithDirectory(a.Agents)
	a.Reconciler = service.NewReconciler(a.pool, a.Sync, platforms, pacer, a.log)
	rcfg := outbox.Config{
		Workers: cfg.RelayWorkers, Logger: a.log, Metrics: outbox.NewMetrics(reg, a.pool), AfterAttempt: a.opts.AfterAttempt,
		Lease: cfg.RelayLease,
		// In-flight deliveries get two thirds of the shutdown time; the
		// rest records their outcomes.
		ShutdownGrace: cmp.Or(cfg.ShutdownTimeout, DefaultShutdownTimeout) * 2 / 3,
	}
	if a.opts.TuneRelay != nil {
		a.opts.TuneRelay(&rcfg)
	}
	a.Relay = outbox.NewRelay(a.pool, deliverer, rcfg)
	notifier.Subscribe(a.Relay.Wake)
	h.Webhooks = &httpapi.Webhooks{Integrations: a.Integrations, Sync: a.Sync, Logger: a.log}
	// The form runs after the sync engine and the relay exist: a
	// submission wakes the relay for the actions it enqueued.
	forms := service.NewForms(a.pool, service.FormsConfig{
		Platforms: platforms, Sync: a.Sync, Agents: a.Agents, Notify: a.Relay.Wake, Logger: a.log,
	})
	h.Forms = &httpapi.Forms{Integrations: a.Integrations, Service: forms, Logger: a.log, PublicURL: cfg.PublicURL}
	h.Webhooks.Automation = h.Forms.Automation
	if !a.opts.NoRelay {
		a.workers = append(a.workers, a.Relay.Run)
	}
	a.workers = append(a.workers, a.refreshAgents, func(ctx context.Context) {
		outbox.RunPruner(ctx, a.pool, outbox.Retention{}, a.log)
	}, func(ctx context.Context) {
		a.Sync.RunRetries(ctx, a.Integrations, parseStored, 5*time.Second)
	})
	if cfg.ReconcileEvery > 0 {
		a.workers = append(a.workers, func(ctx context.Context) { a.Reconciler.RunEvery(ctx, a.Integrations, cfg.ReconcileEvery) })
	}
	return nil
}

// refreshAgents refreshes every integration's agent directory now and then
// every 15 minutes, so new people match without waiting for a miss.
func (a *App) refreshAgents(ctx context.Context) {
	tick := time.NewTicker(15 * time.Minute)
	defer tick.Stop()
	for {
		list, err := a.Integrations.List(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("list integrations to refresh their agent directories", "err", err)
		}
		if err == nil {
			for _, s := range list {
				if s.Disabled {
					continue
				}
				in, err := a.Integrations.Get(ctx, s.ID)
				if err == nil {
					_, err = a.Agents.Refresh(ctx, in)
				}
				if err != nil && ctx.Err() == nil {
					a.log.Warn("refresh agent directory", "integration", s.ID, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Platforms builds adapter clients per integration, reusing them while the
// integration's configuration version is unchanged. Every client goes
// through one outbound HTTP client (OutboundClient): https:// to public
// addresses only, never following redirects.
type Platforms struct {
	hc    *http.Client
	mu    sync.Mutex
	cache map[string]cachedClients
}

type cachedClients struct {
	version int32
	c       service.Clients
}

// NewPlatforms returns the clients' factory; allowLoopback also lets them
// reach loopback addresses (the sandbox's and tests' fakes).
func NewPlatforms(allowLoopback bool) *Platforms {
	return &Platforms{hc: OutboundClient(allowLoopback), cache: map[string]cachedClients{}}
}

// For returns the integration's clients (service.Platforms).
func (p *Platforms) For(in *service.Integration) service.Clients {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cache[in.ID]; ok && c.version == in.ConfigVersion {
		return c.c
	}
	c := service.Clients{
		LeadSquared: leadsquared.New(leadsquared.Config{BaseURL: in.LeadSquaredURL, AccessKey: in.LeadSquaredAccessKey, SecretKey: in.LeadSquaredSecretKey, HTTPClient: p.hc}),
		LimeChat:    limechat.New(limechat.Config{BaseURL: in.LimeChatURL, AccountID: in.LimeChatAccountID, APIToken: in.LimeChatToken, HTTPClient: p.hc}),
	}
	if in.FlowBuilderURL != "" {
		c.FlowBuilder = limechat.NewFlowBuilder(limechat.FlowBuilderConfig{BaseURL: in.FlowBuilderURL, AccountID: in.FlowBuilderAccountID, Key: in.FlowBuilderKey, HTTPClient: p.hc})
	}
	p.cache[in.ID] = cachedClients{version: in.ConfigVersion, c: c}
	return c
}

// parseStored parses a stored delivery again (a webhook whose first
// application failed): the body with the name it was stored under.
func parseStored(src service.Source, name string, body []byte) ([]service.Event, error) {
	switch src {
	case service.SourceLeadSquared:
		return leadsquared.ParseWebhook(name, nil, body)
	case service.SourceLimeChat:
		return limechat.ParseWebhook(nil, body)
	}
	return nil, fmt.Errorf("deliveries from %q are not parsed", src)
}

// NewReconcilePass wires what one reconcile pass outside serve needs
// (`lsqbridge reconcile`): its actions go to the outbox, and the notifier's
// Flush wakes the relays of running serves.
func NewReconcilePass(pool *pgxpool.Pool, cfg Config, log *slog.Logger) (*service.Reconciler, *outbox.Notifier) {
	platforms := NewPlatforms(cfg.AllowLoopback)
	notifier := outbox.NewNotifier(pool, time.Millisecond, log)
	agents := service.NewAgentDirectory(pool, platforms, nil, log, 0)
	sync := service.NewSync(pool, service.SyncConfig{Agents: agents, Notify: notifier.Notify, Logger: log})
	return service.NewReconciler(pool, sync, platforms, service.NewSharedPacer(pool), log), notifier
}

// WarnLegacyCredentials logs, once at start (Run calls it), each integration whose routes
// still take the shared pre-00010 webhook token (see docs/operations.md,
// Security): it works, but one token still opens several doors.
func WarnLegacyCredentials(ctx context.Context, store *service.Integrations, log *slog.Logger) {
	list, err := store.List(ctx)
	if err != nil {
		log.Warn("list integrations for their credentials", "err", err)
		return
	}
	for _, s := range list {
		var legacy []string
		for _, c := range s.Credentials {
			if c.Legacy {
				legacy = append(legacy, string(c.Power))
			}
		}
		if len(legacy) > 0 && !s.Disabled {
			log.Warn("integration still takes its shared pre-00010 webhook token; rotate these credentials",
				"integration", s.ID, "powers", strings.Join(legacy, ","))
		}
	}
}
