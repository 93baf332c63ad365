package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi"
)

// wire builds the sync engine, the relay and the webhook handlers.
func (a *app) wire(ctx context.Context, cfg Config, reg *prometheus.Registry, h *httpapi.Config) error {
	return nil
}
