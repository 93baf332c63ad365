package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// wire builds the sync engine, the relay and the webhook handlers.
func (a *app) wire(ctx context.Context, cfg Config, reg *prometheus.Registry, h *httpapi.Config) error {
	sealer, err := service.NewSealer(cfg.MasterKey)
	if err != nil {
		return err
	}
	a.integrations = service.NewIntegrations(a.pool, sealer)
	platforms := newPlatforms(cfg.AllowLoopback)
	metrics := service.NewMetrics(reg)
	a.agents = service.NewAgentDirectory(a.pool, platforms, metrics, a.log, 30*time.Second)
	notifier := outbox.NewNotifier(a.pool, 5*time.Millisecond, a.log)
	a.sync = service.NewSync(a.pool, service.SyncConfig{Agents: a.agents, Notify: notifier.Notify, Metrics: metrics, Logger: a.log})
	pacer := service.NewSharedPacer(a.pool)
	deliverer := service.NewDeliverer(a.pool, a.integrations, platforms, pacer, a.log).WithDirectory(a.agents)
	a.reconciler = service.NewReconciler(a.pool, a.sync, platforms, pacer, a.log)
	rcfg := outbox.Config{
		Workers: cfg.RelayWorkers, Logger: a.log, Metrics: outbox.NewMetrics(reg, a.pool), AfterAttempt: a.afterAttempt,
		Lease: cfg.RelayLease,
		// In-flight deliveries get two thirds of the shutdown time; the
		// rest records their outcomes.
		ShutdownGrace: cmp.Or(cfg.ShutdownTimeout, defaultShutdownTimeout) * 2 / 3,
	}
	if a.relayTune != nil {
		a.relayTune(&rcfg)
	}
	a.relay = outbox.NewRelay(a.pool, deliverer, rcfg)
	notifier.Subscribe(a.relay.Wake)
	h.Webhooks = &httpapi.Webhooks{Integrations: a.integrations, Sync: a.sync, Logger: a.log}
	if err := a.wireForms(ctx, cfg, platforms, h); err != nil {
		return err
	}
	if !a.noRelay {
		a.workers = append(a.workers, a.relay.Run)
	}
	a.workers = append(a.workers, a.refreshAgents, func(ctx context.Context) {
		outbox.RunPruner(ctx, a.pool, outbox.Retention{}, a.log)
	}, func(ctx context.Context) {
		a.sync.RunRetries(ctx, a.integrations, parseStored, 5*time.Second)
	})
	if cfg.ReconcileEvery > 0 {
		a.workers = append(a.workers, func(ctx context.Context) { a.reconciler.RunEvery(ctx, a.integrations, cfg.ReconcileEvery) })
	}
	return nil
}

// refreshAgents refreshes every integration's agent directory now and then
// every 15 minutes, so new people match without waiting for a miss.
func (a *app) refreshAgents(ctx context.Context) {
	tick := time.NewTicker(15 * time.Minute)
	defer tick.Stop()
	for {
		list, err := a.integrations.List(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("list integrations to refresh their agent directories", "err", err)
		}
		if err == nil {
			for _, s := range list {
				if s.Disabled {
					continue
				}
				in, err := a.integrations.Get(ctx, s.ID)
				if err == nil {
					_, err = a.agents.Refresh(ctx, in)
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

// platforms builds adapter clients per integration, reusing them while the
// integration's configuration version is unchanged. Every client goes
// through one outbound HTTP client (outbound.go): https:// to public
// addresses only, never following redirects.
type platforms struct {
	hc    *http.Client
	mu    sync.Mutex
	cache map[string]cachedClients
}

type cachedClients struct {
	version int32
	c       service.Clients
}

// newPlatforms returns the clients' factory; allowLoopback also lets them
// reach loopback addresses (the sandbox's and tests' fakes).
func newPlatforms(allowLoopback bool) *platforms {
	return &platforms{hc: outboundClient(allowLoopback), cache: map[string]cachedClients{}}
}

func (p *platforms) For(in *service.Integration) service.Clients {
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
