package ops

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lsqbridge/lsqbridge/service"
)

// PrintReconcile writes a reconcile pass's statistics per integration and,
// for a dry run, first what disagrees and what a pass would do.
func PrintReconcile(w io.Writer, stats map[string]service.ReconcileStats, dryRun bool) {
	ids := make([]string, 0, len(stats))
	for k := range stats {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if dryRun {
		fmt.Fprintln(tw, "INTEGRATION\tLINK\tRECORD\tTICKET\tDISAGREES\tWOULD DO")
		for _, k := range ids {
			for _, p := range stats[k].Plans {
				fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\n", k, orDash(idOrEmpty(p.LinkID)), p.RecordKind, p.RecordID, orDash(idOrEmpty(p.TicketID)),
					orDash(strings.Join(p.Disagrees, "; ")), orDash(strings.Join(p.Actions, "; ")))
			}
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintln(tw, "INTEGRATION\tLINKS\tDISAGREEING\tSKIPPED\tCHANGED\tCREATED\tACTIONS\tNOTES\tERRORS\tLEADS MODIFIED")
	for _, k := range ids {
		s := stats[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", k, s.Links, s.Disagreeing, s.Skipped, s.Changed, s.Created, s.Actions, s.Notes, s.Errors, s.LeadRead)
	}
	_ = tw.Flush()
}

// idOrEmpty renders an id, "" for none (a record the pass would link).
func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
