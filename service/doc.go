// Package service is lsqbridge's domain: normalized events (event.go), the
// integration configuration and its rules (config*.go, integrations.go), the
// pure core that decides what an event means for a link (decide*.go,
// ledger.go), the engine that applies events in one transaction each with
// their outbox rows (sync.go), the agent directory (directory.go), the
// handlers that perform outbox actions on the platforms (deliver.go,
// ticket.go), the reconciler (reconcile.go) and the opportunity form
// (form*.go). It declares the small platform interfaces it needs
// (platforms.go) and never imports an adapter.
package service
