// Package ops is what lsqbridge's operator commands do once their flags are
// parsed: the agent directory, the outbox's failing and dead actions, the
// support views (docs/audit.md), reconcile passes and integrations, as
// aligned tables and plain sentences for people without psql, with a
// progress line on a terminal. cmd/lsqbridge parses the command line and
// calls it.
package ops
