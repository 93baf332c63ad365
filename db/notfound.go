package db

import (
	"errors"

	"github.com/jackc/pgx/v5"
)

// This file is written by hand, not by sqlc (which writes only the files
// named after queries/*.sql, db.go and models.go): the one place outside
// the generated code that knows how pgx reports a missing row.

// IsNotFound reports whether err says a query that returns one row found
// none (a :one query's pgx.ErrNoRows, wrapped or not). Callers ask this
// instead of comparing with pgx's sentinel themselves.
func IsNotFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
