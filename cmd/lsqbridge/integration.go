package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"

	"github.com/lsqbridge/lsqbridge/service"
)

func cmdIntegration(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: lsqbridge integration apply -f FILE | validate -f FILE | list | show ID | rotate-token ID | disable ID")
	}
	sub, rest := args[0], args[1:]
	fs := e.flagSet("integration " + sub)
	e.cfg.bindDB(fs)
	file := fs.String("f", "", "with apply and validate: the integration's YAML file")
	fs.StringVar(&e.cfg.PublicURL, "public-url", e.cfg.PublicURL, "URL the platforms reach lsqbridge at (env LSQBRIDGE_PUBLIC_URL)")
	offline := fs.Bool("offline", false, "with apply: do not check the rules' field names against LeadSquared")
	if err := fs.Parse(rest); err != nil {
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
		if err := cfg.Resolve(func(k string) (string, bool) { v := e.getenv(k); return v, v != "" }); err != nil {
			return fmt.Errorf("%s:\n%w", *file, err)
		}
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%s:\n%w", *file, err)
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
		fmt.Fprintf(e.stdout, "%s integration %s (config version %d).\n\n", verb, res.ID, res.ConfigVersion)
		printWebhookSetup(e, res.ID, res.Token)
		printDashboardApp(e, store, res.ID)
	case "list":
		list, err := store.List(e.ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tVERSION\tSTATE\tLEADSQUARED\tLIMECHAT ACCOUNT/INBOX")
		for _, s := range list {
			state := "enabled"
			if s.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d/%d\n", s.ID, s.Name, s.ConfigVersion, state, s.LeadSquaredURL, s.LimeChatAccountID, s.LimeChatInboxID)
		}
		return tw.Flush()
	case "show":
		id, err := oneArg(fs.Args(), "show ID")
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
		id, err := oneArg(fs.Args(), "rotate-token ID")
		if err != nil {
			return err
		}
		token, err := store.RotateToken(e.ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Rotated the webhook token of %s. The old token stops working now.\n\n", id)
		printWebhookSetup(e, id, token)
		printDashboardApp(e, store, id)
	case "disable":
		id, err := oneArg(fs.Args(), "disable ID")
		if err != nil {
			return err
		}
		if err := store.Disable(e.ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Disabled %s: its webhooks are refused and no action is delivered until it is applied again.\n", id)
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

// printWebhookSetup prints the URLs to configure on both platforms. The
// token is printed only when given (on creation and rotation): it is stored
// as a hash and cannot be shown again.
func printWebhookSetup(e *env, id, token string) {
	base := e.cfg.publicURL()
	shown := token
	if token == "" {
		shown = "<the token printed when the integration was created>"
	} else {
		fmt.Fprintf(e.stdout, "Webhook token (shown once, stored only as a hash):\n  %s\n\n", token)
	}
	fmt.Fprintf(e.stdout, "LeadSquared: Settings > API and Webhooks > Webhooks, one webhook per event,\n"+
		"Content Type application/json, custom header  X-Lsqbridge-Token: %s\n", shown)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, w := range leadSquaredWebhooks {
		fmt.Fprintf(tw, "  %s\t%s/v1/webhooks/leadsquared/%s/%s\n", w.label, base, id, w.event)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.stdout, "\nLimeChat: Settings > Integrations > Webhooks, events conversation_created,\n"+
		"conversation_updated, conversation_status_changed (LimeChat cannot send custom headers,\n"+
		"so the token goes in the URL; lsqbridge never logs query strings):\n"+
		"  %s/v1/webhooks/limechat/%s?token=%s\n", base, id, shown)
	fmt.Fprintf(e.stdout, "\nLimeChat: Settings > Custom Attributes, add three Conversation attributes of type Text:\n"+
		"  lsq_record_id, lsq_record_kind, lsq_lead_id  (lsqbridge keeps each ticket's LeadSquared record there\n"+
		"  and finds its tickets by them; LimeChat ignores a filter on an undefined attribute)\n")
	fmt.Fprintf(e.stdout, "\nLimeChat automation rule action \"Send webhook\" (opportunity from a ticket):\n"+
		"  %s/v1/webhooks/limechat/%s/automation?token=%s\n", base, id, shown)
}

// printDashboardApp prints the Dashboard App URL. Its key lets agents'
// browsers fetch signed form links and nothing else; it goes in the URL
// fragment, so it never reaches a request line or an access log.
func printDashboardApp(e *env, store *service.Integrations, id string) {
	in, err := store.Get(e.ctx, id)
	if err != nil {
		fmt.Fprintf(e.stderr, "could not compute the Dashboard App URL: %v\n", err)
		return
	}
	fmt.Fprintf(e.stdout, "\nAgent page (LimeChat: Settings > Integrations > Dashboard Apps; it changes when the token rotates):\n"+
		"  %s/v1/integrations/%s/dashboard-app#key=%s\n", e.cfg.publicURL(), id, service.DashboardAppKey(in))
}

// checkFields reads LeadSquared's lead and opportunity-type metadata with
// the integration's own keys and checks every field its rules name. When
// LeadSquared cannot be reached it says so and lets the apply go on (the
// file may be applied before the network allows it); refused keys are an
// error, since nothing would work with them.
func checkFields(e *env, cfg *service.IntegrationConfig) error {
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	base, _ := service.NormalizeBaseURL(cfg.LeadSquared.Host)
	lsq := leadsquared.New(leadsquared.Config{BaseURL: base, AccessKey: cfg.LeadSquared.AccessKey,
		SecretKey: cfg.LeadSquared.SecretKey, Timeout: 10 * time.Second, Retries: -1})
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
	return cfg.CheckFields(lead, opp)
}
