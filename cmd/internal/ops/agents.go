package ops

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// PrintAgents writes the e-mail directory that maps LeadSquared owners to
// LimeChat agents, and counts who is on one side only: a person present on
// one side cannot be mapped, and their records and tickets show up as
// unmatched_agent.
func PrintAgents(w io.Writer, list []service.AgentEntry) error {
	t := newTable(w, "EMAIL", "LEADSQUARED USER", "LIMECHAT AGENT", "NAME", "PRESENT", "REFRESHED")
	var matched, lsqOnly, lcOnly int
	for _, a := range list {
		lsq, lc := a.LeadSquaredUserID, ""
		if a.LimeChatAgentID != 0 {
			lc = strconv.FormatInt(a.LimeChatAgentID, 10)
		}
		switch {
		case lsq != "" && lc != "":
			matched++
		case lsq != "":
			lsqOnly++
		case lc != "":
			lcOnly++
		}
		name := a.LeadSquaredName
		if name == "" {
			name = a.LimeChatName
		}
		t.row(a.Email, lsq, lc, name, presence(a), stamp(a.RefreshedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d matched, %d in LeadSquared only, %d in LimeChat only.\n", matched, lsqOnly, lcOnly)
	if lsqOnly+lcOnly > 0 {
		fmt.Fprintln(w, "People on one side only cannot be mapped: their records or tickets show as unmatched_agent"+
			" (lsqbridge audit unmatched). Add them on the other platform with the same e-mail, then run agents refresh.")
	}
	return nil
}

// presence says on which side a person is, and whether they are active.
func presence(a service.AgentEntry) string {
	inLsq, inLc := a.LeadSquaredUserID != "", a.LimeChatAgentID != 0
	var s string
	switch {
	case inLsq && inLc:
		s = "matched"
	case inLsq:
		s = "LeadSquared only"
	case inLc:
		s = "LimeChat only"
	default:
		s = "neither (left both)"
	}
	var inactive []string
	if inLsq && !a.LeadSquaredActive {
		inactive = append(inactive, "LeadSquared")
	}
	if inLc && !a.LimeChatActive {
		inactive = append(inactive, "LimeChat")
	}
	if len(inactive) > 0 {
		s += ", inactive in " + strings.Join(inactive, " and ")
	}
	return s
}
