package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/cmd/internal/app"

	"github.com/lsqbridge/lsqbridge/service"
)

func cmdIntegration(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: lsqbridge integration apply -f FILE | validate -f FILE | list | show ID | rotate-token ID --for " + powerList + " | disable ID")
	}
	sub, rest := args[0], args[1:]
	fs := e.flagSet("integration " + sub)
	e.cfg.BindDB(fs)
	file := fs.String("f", "", "with apply and validate: the integration's YAML file")
	fs.StringVar(&e.cfg.PublicURL, "public-url", e.cfg.PublicURL, "URL the platforms reach lsqbridge at (env LSQBRIDGE_PUBLIC_URL)")
	offline := fs.Bool("offline", false, "with apply: do not check the rules' field names against LeadSquared")
	forPowers := fs.String("for", "", "with rotate-token: which credential(s), comma-separated: "+powerList+", or all")
	fs.BoolVar(&e.cfg.AllowLoopback, "allow-loopback", e.cfg.AllowLoopback, "with apply and validate: accept platform URLs on loopback addresses, over http:// too (local fakes only; env LSQBRIDGE_ALLOW_LOOPBACK)")
	args, err := parseInterleaved(fs, rest)
	if err != nil {
		return err
	}
	if sub == "validate" {
		return integrationValidate(e, *file)
	}

	// Parse and resolve the file before touching the database, so a bad
	// file is reported even when the database is down.
	var cfg *service.IntegrationConfig
	if sub == "apply" {
		if *file == "" {
			return errors.New("apply needs -f FILE")
		}
		data, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		if cfg, err = service.ParseIntegrationConfig(data); err != nil {
			return fmt.Errorf("%s:\n%w", *file, err)
		}
		cfg.AllowLoopback = e.cfg.AllowLoopback
		if err := cfg.Resolve(func(k string) (string, bool) { v := e.getenv(k); return v, v != "" }); err != nil {
			return fmt.Errorf("%s:\n%w", *file, err)
		}
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%s:\n%w", *file, err)
		}
	}
	var powers []service.Power
	if sub == "rotate-token" {
		if powers, err = parsePowers(*forPowers); err != nil {
			return err
		}
	}
	needKey := sub == "apply" || sub == "show"
	if err := e.cfg.Validate(true, needKey); err != nil {
		return err
	}
	var sealer *service.Sealer
	if needKey || e.cfg.MasterKey != "" {
		var err error
		if sealer, err = service.NewSealer(e.cfg.MasterKey); err != nil {
			return err
		}
	}
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	store := service.NewIntegrations(pool, sealer)

	switch sub {
	case "apply":
		if !*offline {
			if err := checkFields(e, cfg); err != nil {
				return fmt.Errorf("%s:\n%w", *file, err)
			}
		}
		res, err := store.Apply(e.ctx, cfg)
		if err != nil {
			return err
		}
		verb := "Updated"
		if res.Created {
			verb = "Created"
		}
		fmt.Fprintf(e.stdout, "%s integration %s (config version %d).\n", verb, res.ID, res.ConfigVersion)
		if !res.Created {
			fmt.Fprintf(e.stdout, "Its credentials are unchanged (they were shown when created or last rotated).\n")
		}
		printSetup(e, res.ID, res.Credentials, service.Powers)
	case "list":
		list, err := store.List(e.ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
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
	case "show":
		id, err := oneArg(args, "show ID")
		if err != nil {
			return err
		}
		s, err := store.Show(e.ctx, id)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	case "rotate-token":
		id, err := oneArg(args, "rotate-token ID --for "+powerList)
		if err != nil {
			return err
		}
		var creds service.Credentials
		for _, p := range powers {
			secret, err := store.Rotate(e.ctx, id, p)
			if err != nil {
				return err
			}
			creds = creds.With(p, secret)
			fmt.Fprintf(e.stdout, "Rotated the %s credential of %s: the old one is refused from the next request on, by every lsqbridge process.\n", p, id)
			if p == service.PowerApp {
				fmt.Fprintf(e.stdout, "Every form link the old Dashboard App key signed stops working too.\n")
			}
		}
		printSetup(e, id, creds, powers)
	case "disable":
		id, err := oneArg(args, "disable ID")
		if err != nil {
			return err
		}
		if err := store.Disable(e.ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Disabled %s: every route refuses its requests from the next one on, in every lsqbridge process,\n"+
			"and no action is delivered until it is applied again.\n", id)
	default:
		return fmt.Errorf("unknown integration command %q", sub)
	}
	return nil
}

func oneArg(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("usage: lsqbridge integration %s", what)
	}
	return args[0], nil
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
func printSetup(e *env, id string, creds service.Credentials, powers []service.Power) {
	base := e.cfg.WebhookBase()
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
		fmt.Fprintf(e.stdout, "\nCredentials (each shown once, stored only as a hash; each opens one route and is rotated on its own\n"+
			"with `lsqbridge integration rotate-token %s --for %s`):\n", id, powerList)
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		for _, p := range given {
			fmt.Fprintf(tw, "  %s\t%s\n", p, creds.Get(p))
		}
		_ = tw.Flush()
	}
	if has(service.PowerLeadSquared) {
		fmt.Fprintf(e.stdout, "\nLeadSquared: Settings > API and Webhooks > Webhooks, one webhook per event, Content Type\n"+
			"application/json, custom header (never in the URL)  X-Lsqbridge-Token: %s\n", shown(service.PowerLeadSquared))
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		for _, w := range leadSquaredWebhooks {
			fmt.Fprintf(tw, "  %s\t%s/v1/webhooks/leadsquared/%s/%s\n", w.label, base, id, w.event)
		}
		_ = tw.Flush()
	}
	if has(service.PowerLimeChat) {
		fmt.Fprintf(e.stdout, "\nLimeChat: Settings > Integrations > Webhooks, events conversation_created,\n"+
			"conversation_updated, conversation_status_changed. LimeChat cannot send custom headers, so the\n"+
			"limechat credential goes in the URL; it opens this route only, and lsqbridge never logs query strings.\n"+
			"Give the webhook a secret (limechat.webhook_secret) where LimeChat offers one: lsqbridge then checks\n"+
			"every delivery's X-Chatwoot-Signature too.\n"+
			"  %s/v1/webhooks/limechat/%s?token=%s\n", base, id, shown(service.PowerLimeChat))
		fmt.Fprintf(e.stdout, "\nLimeChat: Settings > Custom Attributes, add three Conversation attributes of type Text:\n"+
			"  lsq_record_id, lsq_record_kind, lsq_lead_id  (lsqbridge keeps each ticket's LeadSquared record there\n"+
			"  and finds its tickets by them; LimeChat ignores a filter on an undefined attribute)\n")
	}
	if has(service.PowerAutomation) {
		fmt.Fprintf(e.stdout, "\nLimeChat automation rule action \"Send webhook\" (opportunity from a ticket):\n"+
			"  %s/v1/webhooks/limechat/%s/automation?token=%s\n", base, id, shown(service.PowerAutomation))
	}
	if has(service.PowerApp) {
		// The key goes in the URL fragment: it never reaches a request line
		// or an access log. It signs form links for this integration's
		// inbox only, at form.app_links_per_minute.
		fmt.Fprintf(e.stdout, "\nAgent page (LimeChat: Settings > Integrations > Dashboard Apps):\n"+
			"  %s/v1/integrations/%s/dashboard-app#key=%s\n", base, id, shown(service.PowerApp))
	}
}

// powerList is how the CLI names the credentials.
const powerList = "leadsquared|limechat|automation|app"

// parsePowers reads --for: a comma-separated list of powers, or all.
func parsePowers(s string) ([]service.Power, error) {
	if s == "" {
		return nil, errors.New("rotate-token needs --for " + powerList + " (comma-separated, or all): each credential is rotated on its own")
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
func checkFields(e *env, cfg *service.IntegrationConfig) error {
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	base, _ := service.NormalizeBaseURL(cfg.LeadSquared.Host)
	lsq := leadsquared.New(leadsquared.Config{BaseURL: base, AccessKey: cfg.LeadSquared.AccessKey,
		SecretKey: cfg.LeadSquared.SecretKey, Timeout: 10 * time.Second, Retries: -1, HTTPClient: app.OutboundClient(e.cfg.AllowLoopback)})
	unreachable := func(err error) bool {
		class, _ := service.ClassOf(err)
		return class == service.ClassRetryable || class == service.ClassUncertain
	}
	lead, err := lsq.LeadMetadata(ctx)
	if err != nil {
		if unreachable(err) {
			fmt.Fprintf(e.stderr, "warning: could not read LeadSquared's field metadata (%v); applied without checking field names\n", err)
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
