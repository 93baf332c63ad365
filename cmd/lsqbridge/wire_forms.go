package main

import (
	"context"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi"
	"github.com/lsqbridge/lsqbridge/service"
)

// wireForms builds the opportunity form API, the agent page and the
// automation handler.
func (a *app) wireForms(ctx context.Context, cfg Config, platforms service.Platforms, h *httpapi.Config) error {
	return nil
}
