package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/service"
)

// Integrations does `lsqbridge integration`'s work on the store: apply a
// file, list, show, rotate credentials, disable; and tells the person what
// to configure on both platforms.
type Integrations struct {
	Store *service.Integrations
	// Out gets the results; Warn what went wrong but did not stop the command.
	Out, Warn io.Writer
	// WebhookBase is the URL the platforms reach lsqbridge at (app.Config.WebhookBase).
	WebhookBase string
	// AllowLoopback lets the field check reach LeadSquared on a loopback
	// address (local fakes).
	AllowLoopback bool
}

// LoadIntegration reads an integration's YAML file, resolves its ${ENV}
// secrets with getenv and validates it, naming the file in every error.
func LoadIntegration(file string, allowLoopback bool, getenv func(string) string) (*service.IntegrationConfig, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cfg, err := service.ParseIntegrationConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", file, err)
	}
	cfg.AllowLoopback = allowLoopback
	if err := cfg.Resolve(func(k string) (string, bool) { v := getenv(k); return v, v != "" }); err != nil {
		return nil, fmt.Errorf("%s:\n%w", file, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s:\n%w", file, err)
	}
	return cfg, nil
}

// Apply creates or updates the integration of cfg (read from file), first
// checking the field names its rules use against LeadSquared unless
// offline, and prints its setup: the credentials when new.
func (x *Integrations) Apply(ctx context.Context, cfg *service.IntegrationConfig, file string, offline bool) error {
	if !offline {
		if err := x.checkFields(ctx, cfg); err != nil {
			return fmt.Errorf("%s:\n%w", file, err)
		}
	}
	res, err := x.Store.Apply(ctx, cfg)
	if err != nil {
		return err
	}
	verb := "Updated"
	if res.Created {
		verb = "Created"
	}
	fmt.Fprintf(x.Out, "%s integration %s (config version %d).\n", verb, res.ID, res.ConfigVersion)
	if !res.Created {
		fmt.Fprintf(x.Out, "Its credentials are unchanged (they were shown when created or last rotated).\n")
	}
	x.printSetup(res.ID, res.Credentials, service.Powers)
	return nil
}

// List writes every integration, one line each.
func (x *Integrations) List(ctx context.Context) error {
	list, err := x.Store.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(x.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tVERSION\tSTATE\tCREDENTIALS\tLEADSQUARED\tLIMECHAT ACCOUNT/INBOX")
	for _, s := range list {
		state := "enabled"
		if s.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d/%d\n", s.ID, s.Name, s.ConfigVersion, state, credentialsState(s.Credentials),
			s.LeadSquaredURL, s.LimeChatAccountID, s.LimeChatInboxID)
	}
	return tw.Flush()
}

// Show writes one integration as indented JSON.
func (x *Integrations) Show(ctx context.Context, id string) error {
	s, err := x.Store.Show(ctx, id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(x.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Rotate replaces each of the integration's credentials for powers, and
// prints the new ones with where they go.
func (x *Integrations) Rotate(ctx context.Context, id string, powers []service.Power) error {
	var creds service.Credentials
	for _, p := range powers {
		secret, err := x.Store.Rotate(ctx, id, p)
		if err != nil {
			return err
		}
		creds = creds.With(p, secret)
		fmt.Fprintf(x.Out, "Rotated the %s credential of %s: the old one is refused from the next request on, by every lsqbridge process.\n", p, id)
		if p == service.PowerApp {
			fmt.Fprintf(x.Out, "Every form link the old Dashboard App key signed stops working too.\n")
		}
	}
	x.printSetup(id, creds, powers)
	return nil
}

// Disable stops all sync for the integration.
func (x *Integrations) Disable(ctx context.Context, id string) error {
	if err := x.Store.Disable(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(x.Out, "Disabled %s: every route refuses its requests from the next one on, in every lsqbridge process,\n"+
		"and no action is delivered until it is applied again.\n", id)
	return nil
}

// leadSquaredWebhooks are the LeadSquared webhook events to configure, one
// URL each (LeadSquared fires one webhook per event).
var leadSquaredWebhooks = []struct{ event, label string }{
	{"lead-created", "Lead create (Lead_Post_Create)"},
	{"lead-updated", "Lead update (Lead_Post_Update)"},
	{"lead-owner-changed", "Lead owner change (Lead_Owner_Change)"},
	{"lead-stage-changed", "Lead stage change (Lead_Post_Stage_Change)"},
	{"opportunity-created", "Opportunity create (Opportunity_Post_Create)"},
	{"opportunity-updated", "Opportunity update (Opportunity_Post_Update)"},
	{"opportunity-stage-changed", "Opportunity stage update (OpportunityStage_Post_Update)"},
}

// printSetup prints what to configure on both platforms for the given
// powers, with each credential when it is given (on creation and rotation:
// it is stored as a hash and cannot be shown again) and a placeholder
// naming it otherwise.
func (x *Integrations) printSetup(id string, creds service.Credentials, powers []service.Power) {
	base, w := x.WebhookBase, x.Out
	shown := func(p service.Power) string {
		if v := creds.Get(p); v != "" {
			return v
		}
		return "<the " + string(p) + " credential>"
	}
	has := func(p service.Power) bool { return slices.Contains(powers, p) }
	var given []service.Power
	for _, p := range powers {
		if creds.Get(p) != "" {
			given = append(given, p)
		}
	}
	if len(given) > 0 {
		fmt.Fprintf(w, "\nCredentials (each shown once, stored only as a hash; each opens one route and is rotated on its own\n"+
			"with `lsqbridge integration rotate-token %s --for %s`):\n", id, PowerList)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, p := range given {
			fmt.Fprintf(tw, "  %s\t%s\n", p, creds.Get(p))
		}
		_ = tw.Flush()
	}
	if has(service.PowerLeadSquared) {
		fmt.Fprintf(w, "\nLeadSquared: Settings > API and Webhooks > Webhooks, one webhook per event, Content Type\n"+
			"application/json, custom header (never in the URL)  X-Lsqbridge-Token: %s\n", shown(service.PowerLeadSquared))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, w := range leadSquaredWebhooks {
			fmt.Fprintf(tw, "  %s\t%s/v1/webhooks/leadsquared/%s/%s\n", w.label, base, id, w.event)
		}
		_ = tw.Flush()
	}
	if has(service.PowerLimeChat) {
		fmt.Fprintf(w, "\nLimeChat: Settings > Integrations > Webhooks, events conversation_created,\n"+
			"conversation_updated, conversation_status_changed. LimeChat cannot send custom headers, so the\n"+
			"limechat credential goes in the URL; it opens this route only, and lsqbridge never logs query strings.\n"+
			"Give the webhook a secret (limechat.webhook_secret) where LimeChat offers one: lsqbridge then checks\n"+
			"every delivery's X-Chatwoot-Signature too.\n"+
			"  %s/v1/webhooks/limechat/%s?token=%s\n", base, id, shown(service.PowerLimeChat))
		fmt.Fprintf(w, "\nLimeChat: Settings > Custom Attributes, add three Conversation attributes of type Text:\n"+
			"  lsq_record_id, lsq_record_kind, lsq_lead_id  (lsqbridge keeps each ticket's LeadSquared record there\n"+
			"  and finds its tickets by them; LimeChat ignores a filter on an undefined attribute)\n")
	}
	if has(service.PowerAutomation) {
		fmt.Fprintf(w, "\nLimeChat automation rule action \"Send webhook\" (opportunity from a ticket):\n"+
			"  %s/v1/webhooks/limechat/%s/automation?token=%s\n", base, id, shown(service.PowerAutomation))
	}
	if has(service.PowerApp) {
		// The key goes in the URL fragment: it never reaches a request line
		// or an access log. It signs form links for this integration's
		// inbox only, at form.app_links_per_minute.
		fmt.Fprintf(w, "\nAgent page (LimeChat: Settings > Integrations > Dashboard Apps):\n"+
			"  %s/v1/integrations/%s/dashboard-app#key=%s\n", base, id, shown(service.PowerApp))
	}
}

// PowerList is how the CLI names the credentials.
const PowerList = "leadsquared|limechat|automation|app"

// ParsePowers reads --for: a comma-separated list of powers, or all.
func ParsePowers(s string) ([]service.Power, error) {
	if s == "" {
		return nil, errors.New("rotate-token needs --for " + PowerList + " (comma-separated, or all): each credential is rotated on its own")
	}
	if s == "all" {
		return service.Powers, nil
	}
	var out []service.Power
	for _, part := range strings.Split(s, ",") {
		p, err := service.ParsePower(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// credentialsState summarises an integration's credentials for `list`.
func credentialsState(cs []service.CredentialState) string {
	var legacy []string
	for _, c := range cs {
		if c.Legacy {
			legacy = append(legacy, string(c.Power))
		}
	}
	if len(legacy) == 0 {
		return "own"
	}
	return "shared legacy token: " + strings.Join(legacy, ",")
}

// checkFields reads LeadSquared's lead and opportunity-type metadata and its
// activity types with the integration's own keys, and checks every field
// and activity type its rules name. When
// LeadSquared cannot be reached it says so and lets the apply go on (the
// file may be applied before the network allows it); refused keys are an
// error, since nothing would work with them.
func (x *Integrations) checkFields(ctx context.Context, cfg *service.IntegrationConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	base, _ := service.NormalizeBaseURL(cfg.LeadSquared.Host)
	lsq := leadsquared.New(leadsquared.Config{BaseURL: base, AccessKey: cfg.LeadSquared.AccessKey,
		SecretKey: cfg.LeadSquared.SecretKey, Timeout: 10 * time.Second, Retries: -1, HTTPClient: app.OutboundClient(x.AllowLoopback)})
	unreachable := func(err error) bool {
		class, _ := service.ClassOf(err)
		return class == service.ClassRetryable || class == service.ClassUncertain
	}
	lead, err := lsq.LeadMetadata(ctx)
	if err != nil {
		if unreachable(err) {
			fmt.Fprintf(x.Warn, "warning: could not read LeadSquared's field metadata (%v); applied without checking field names\n", err)
			return nil
		}
		return fmt.Errorf("leadsquared: reading lead metadata with these keys failed: %w", err)
	}
	opp := map[int][]service.FieldMeta{}
	for _, code := range cfg.OpportunityTypes() {
		fields, err := lsq.OpportunityTypeMetadata(ctx, code)
		if err != nil {
			return fmt.Errorf("leadsquared: reading opportunity type %d: %w", code, err)
		}
		opp[code] = fields
	}
	var errs service.ConfigErrors
	var ce service.ConfigErrors
	if err := cfg.CheckFields(lead, opp); errors.As(err, &ce) {
		errs = append(errs, ce...)
	} else if err != nil {
		return err
	}
	if len(cfg.Rules.TagNotes) > 0 {
		types, err := lsq.ActivityTypes(ctx)
		if err != nil {
			return fmt.Errorf("leadsquared: reading activity types: %w", err)
		}
		if err := cfg.CheckActivities(types); errors.As(err, &ce) {
			errs = append(errs, ce...)
		} else if err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// ValidateIntegrationFile handles `integration validate -f FILE`: the file is
// checked offline (no database, no environment, no platform) and every
// problem is printed with its key path, not only the first.
func ValidateIntegrationFile(w io.Writer, file string, allowLoopback bool) error {
	if file == "" {
		return errors.New("validate needs -f FILE")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	problems := service.CheckIntegrationConfig(data, allowLoopback)
	if len(problems) == 0 {
		fmt.Fprintf(w, "%s: valid (secrets are ${ENV} references, resolved by `integration apply`;"+
			" rule fields are checked against LeadSquared there too)\n", file)
		return nil
	}
	for _, p := range problems {
		fmt.Fprintf(w, "%s: %s\n", file, p)
	}
	word := "problems"
	if len(problems) == 1 {
		word = "problem"
	}
	return fmt.Errorf("%s: %d %s", file, len(problems), word)
}
