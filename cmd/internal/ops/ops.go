// Package ops is what lsqbridge's operator commands do once their flags are
// parsed: the agent directory, the outbox's failing and dead actions, the
// support views (docs/audit.md), reconcile passes and integrations, as
// aligned tables and plain sentences for people without psql. cmd/lsqbridge
// parses the command line and calls it.
package ops

// Progress shows how far a long command has got (cmd/lsqbridge's terminal
// status line; silent in a pipe).
type Progress interface {
	// Status replaces the status line.
	Status(format string, args ...any)
	// Done clears it.
	Done()
}
