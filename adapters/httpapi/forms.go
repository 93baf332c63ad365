package httpapi

import "github.com/gorilla/mux"

// Forms serves the opportunity form routes.
type Forms struct{}

func (f *Forms) register(r *mux.Router) {}
