package main

import (
	"context"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi"
	"github.com/lsqbridge/lsqbridge/service"
)

// wireForms builds the opportunity form API, the agent page and the
// automation handler. It runs after the sync engine and the relay exist:
// a submission wakes the relay for the actions it enqueued.
func (a *app) wireForms(_ context.Context, cfg Config, platforms service.Platforms, h *httpapi.Config) error {
	forms := service.NewForms(a.pool, service.FormsConfig{
		Platforms: platforms,
		Sync:      a.sync,
		Agents:    a.agents,
		Notify:    a.relay.Wake,
		Logger:    a.log,
	})
	h.Forms = &httpapi.Forms{Integrations: a.integrations, Service: forms, Logger: a.log, PublicURL: cfg.PublicURL}
	if h.Webhooks != nil {
		h.Webhooks.Automation = h.Forms.Automation
	}
	return nil
}
