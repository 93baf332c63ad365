package httpapi

import "github.com/gorilla/mux"

// Webhooks serves the platforms' webhook routes.
type Webhooks struct{}

func (h *Webhooks) register(r *mux.Router) {}

// Forms serves the opportunity form routes.
type Forms struct{}

func (f *Forms) register(r *mux.Router) {}
