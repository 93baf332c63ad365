package sandbox

import (
	"fmt"
	"io"
)

// Print tells a newcomer what is running and how to act as a person.
func (s *Sandbox) Print(w io.Writer) {
	fmt.Fprintf(w, `lsqbridge sandbox is running.

  lsqbridge          %[1]s   (/healthz, /readyz, /metrics)
  LeadSquared fake   %[2]s
  LimeChat fake      %[3]s
  integration        demo (rules: lsqbridge integration show demo)

People (on both platforms, matched by e-mail): asha@acme.test, ravi@acme.test, meera@acme.test;
solo@acme.test exists only in LeadSquared (an unmatched agent).

Act as a person (JSON over HTTP; every change fires the platform's webhooks):
  curl -XPOST %[2]s/_person/leads -d '{"fields":{"FirstName":"Priya","EmailAddress":"priya@example.com","Phone":"+91-9876543210"}}'
  curl -XPOST %[2]s/_person/leads/LEAD_ID/owner -d '{"email":"ravi@acme.test"}'
  curl -XPOST %[2]s/_person/leads/LEAD_ID/fields -d '{"fields":{"mx_Interest":"Villa","ProspectStage":"Qualified"}}'
  curl -XPOST %[2]s/_person/leads/LEAD_ID/opportunities -d '{"fields":{"mx_Custom_1":"Goa trip","Status":"Open","mx_Custom_4":"2026-12-20"}}'
  curl %[2]s/_person/leads/LEAD_ID
  curl %[3]s/_person/conversations
  curl -XPOST %[3]s/_person/conversations/TICKET_ID/assign -d '{"email":"meera@acme.test"}'
  curl -XPOST %[3]s/_person/conversations/TICKET_ID/labels -d '{"label":"wants-callback"}'
  curl %[3]s/_person/conversations/TICKET_ID/messages       # lsqbridge's private notes to agents among them
  curl -XPOST %[3]s/_person/conversations/TICKET_ID/close
  curl -XPOST %[3]s/_person/conversations/TICKET_ID/customer-messages -d '{"content":"Hi again"}'   # closed: a new conversation
  curl %[3]s/_person/flow-events

The agent page (opportunity from a ticket) — get a signed link for a ticket with the Dashboard App
key, then open its "url":
  curl -H 'X-Lsqbridge-App-Key: %[4]s' %[1]s/v1/integrations/demo/tickets/TICKET_ID/opportunity-form/link

Watch it work: lsqbridge audit links --integration demo ; lsqbridge audit timeline --link N
Run the acceptance checklist against it: make uat
Stop with Ctrl-C.
`, s.URL, s.LSQURL, s.LCURL, s.Creds.App)
}
