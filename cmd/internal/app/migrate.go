package app

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/migrations"
)

// Migrate runs one `lsqbridge migrate` subcommand (up, down, status,
// version) on pool and reports what it did to w. With down, a to of 0 or
// more rolls back to that version; below 0 it rolls back one migration.
func Migrate(ctx context.Context, pool *pgxpool.Pool, w io.Writer, sub string, to int64) error {
	r, err := migrations.NewRunner(pool)
	if err != nil {
		return err
	}
	defer r.Close()

	switch sub {
	case "up":
		res, err := r.Up(ctx)
		for _, m := range res {
			fmt.Fprintf(w, "applied %s (%s)\n", m.Source.Path, m.Duration)
		}
		if err != nil {
			return err
		}
		if len(res) == 0 {
			fmt.Fprintln(w, "schema already current")
		}
	case "down":
		if to >= 0 {
			res, err := r.DownTo(ctx, to)
			for _, m := range res {
				fmt.Fprintf(w, "rolled back %s\n", m.Source.Path)
			}
			return err
		}
		m, err := r.Down(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "rolled back %s\n", m.Source.Path)
	case "status":
		st, err := r.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
		for _, s := range st {
			at := "-"
			if !s.AppliedAt.IsZero() {
				at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, at, s.Source.Path)
		}
		return tw.Flush()
	case "version":
		cur, latest, err := r.Version(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "database version %d, this build's newest %d\n", cur, latest)
	default:
		return fmt.Errorf("unknown migrate command %q (want up, down, status or version)", sub)
	}
	return nil
}
