// Package httpapi is lsqbridge's HTTP surface: the platforms' webhooks, the
// opportunity form (JSON and the agent page), health, readiness and metrics.
// Handlers authenticate, read bounded bodies and hand over to the service;
// every error goes out through writeError.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config holds what the handlers need. Optional parts may be nil; their
// routes are then not registered.
type Config struct {
	Logger *slog.Logger
	// Ready reports whether the service can do its work (database reachable,
	// schema current); its error is shown to the caller of /readyz.
	Ready    func(ctx context.Context) error
	Registry *prometheus.Registry
	Webhooks *Webhooks
	Forms    *Forms
}

// New returns the router with every route registered.
func New(cfg Config) http.Handler {
	r := mux.NewRouter()
	r.Use(countResponses(cfg.Registry))
	registerHealthRoutes(r, cfg)
	refused := newRefusedCounter(cfg.Registry)
	if cfg.Webhooks != nil {
		cfg.Webhooks.refused = refused
		cfg.Webhooks.register(r)
	}
	if cfg.Forms != nil {
		cfg.Forms.refused = refused
		cfg.Forms.register(r)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such route")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	return r
}

func registerHealthRoutes(r *mux.Router, cfg Config) {
	// GET /healthz: the process is up.
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet, http.MethodHead)

	// GET /readyz: the database answers and its schema is what this build needs.
	r.HandleFunc("/readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		defer cancel()
		if cfg.Ready != nil {
			if err := cfg.Ready(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}).Methods(http.MethodGet, http.MethodHead)

	if cfg.Registry != nil {
		// GET /metrics: Prometheus text format.
		r.Handle("/metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	}
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError is the one way an error leaves the API: {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
