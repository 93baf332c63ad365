package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

// Demo credentials of the sandbox's fakes. They guard nothing real, but they
// are still passed only as sealed integration secrets, like real ones.
const (
	demoLSQAccess  = "demo-access-key"
	demoLSQSecret  = "demo-secret-key"
	demoLCToken    = "demo-limechat-token"
	demoFBKey      = "demo-flow-builder-key"
	demoFBAccount  = "fb-demo"
	demoWebhookSig = "demo-webhook-signing-secret"
)

// demoPeople are on both platforms (matched by e-mail), except solo, who
// exists only in LeadSquared (an unmatched agent).
var demoPeople = []struct{ first, last, email string }{
	{"Asha", "Rao", "asha@acme.test"},
	{"Ravi", "Kumar", "ravi@acme.test"},
	{"Meera", "Iyer", "meera@acme.test"},
}

const soloEmail = "solo@acme.test"

// demoRules are the sandbox integration's rules: one of each kind.
func demoRules() service.Rules {
	return service.Rules{
		Sync: service.SyncRules{Leads: true, Opportunities: true, InitialLabels: []string{"leadsquared"},
			TicketFields: map[string]string{"mx_City": "city"}},
		FieldTags: []service.FieldTagRule{
			{Record: service.KindLead, Field: "mx_Interest", Value: "Villa", Tag: "interest-villa"},
			{Record: service.KindLead, Field: "ProspectStage", Value: "Hot", Tag: "hot-lead"},
			{Record: service.KindOpportunity, Field: "mx_Custom_2", Value: "Qualified", Tag: "opp-qualified"},
		},
		TagFields: []service.TagFieldRule{
			{Tag: "wants-callback", Record: service.KindLead, Set: map[string]string{"mx_Callback_Requested": "Yes"}},
			{Tag: "budget-confirmed", Record: service.KindOpportunity, Set: map[string]string{"mx_Custom_7": "50000"}},
		},
		TagNotes: []service.TagNoteRule{
			{Tag: "quote-sent", Record: service.KindLead, ActivityEvent: 201, Note: "Quote sent from LimeChat"},
			{Tag: "quote-sent", Record: service.KindOpportunity, ActivityEvent: 208, Note: "Quote sent from LimeChat"},
		},
		Campaigns: []service.CampaignRule{
			{Record: service.KindLead, Field: "ProspectStage", To: "Qualified", Event: "lead_qualified",
				Data: map[string]string{"first_name": "FirstName", "stage": "ProspectStage"}},
			{Record: service.KindOpportunity, Field: "mx_Custom_2", To: "Reachable", Event: "opportunity_reachable",
				Data: map[string]string{"booking": "mx_Custom_1", "stage": "mx_Custom_2"}},
			{Record: service.KindOpportunity, Field: "Status", From: "Open", To: "Won", Event: "booking_confirmed",
				Data: map[string]string{"booking": "mx_Custom_1"}},
		},
		Form: service.FormRules{
			OpportunityType: 12000,
			Prefill: map[string]string{
				"mx_Custom_1": "contact.name",
				"mx_Custom_3": "contact.custom_attributes.city",
				"mx_Custom_4": "conversation.custom_attributes.check_in",
				"mx_Custom_5": "conversation.custom_attributes.check_out",
				"mx_Custom_8": "conversation.custom_attributes.amenities",
				"mx_Custom_9": "conversation.custom_attributes.arrival",
			},
			IncompleteTag: "opportunity-form-incomplete",
			PageLinkTTL:   service.Duration(24 * time.Hour),
			DateOrder:     service.DateOrderDayFirst,
			Timezone:      service.DefaultFormTimezone,
		},
		Fuse:  service.FuseRules{MaxActionsPerMinute: 200},
		Phone: service.PhoneRules{DefaultCountryCode: "91"},
	}
}

// newDemoLeadSquared is the LeadSquared fake with the demo people (and a
// field the demo rules set).
func newDemoLeadSquared(hooks *fakehooks.Sender, millis bool, now func() time.Time) *lsqfake.Fake {
	f := lsqfake.New(lsqfake.Options{AccessKey: demoLSQAccess, SecretKey: demoLSQSecret, Hooks: hooks, WebhookMillis: millis, Now: now})
	f.AddLeadField(service.FieldMeta{SchemaName: "mx_Callback_Requested", DisplayName: "Callback Requested", DataType: "Select", Options: []string{"Yes", "No"}})
	for _, p := range demoPeople {
		f.AddUser(p.email, p.first, p.last)
	}
	f.AddUser(soloEmail, "Solo", "Only")
	return f
}

// newDemoLimeChat is the LimeChat fake with the demo agents.
func newDemoLimeChat(hooks *fakehooks.Sender, now func() time.Time) *limechatfake.Fake {
	f := limechatfake.New(limechatfake.Options{AccountID: 1, InboxID: 1, APIToken: demoLCToken,
		FlowBuilderAccountID: demoFBAccount, FlowBuilderKey: demoFBKey, Hooks: hooks, Now: now})
	for _, p := range demoPeople {
		f.AddAgent(p.first+" "+p.last, p.email)
	}
	return f
}

// sandbox is lsqbridge running against in-process fakes of both platforms.
type sandbox struct {
	app      *app
	LSQ      *lsqfake.Fake
	LC       *limechatfake.Fake
	LSQHooks *fakehooks.Sender
	LCHooks  *fakehooks.Sender
	URL      string // lsqbridge
	LSQURL   string
	LCURL    string
	// Creds are the demo integration's credentials, one per route.
	Creds service.Credentials
	In    *service.Integration
	// Users and Agents by e-mail.
	Users  map[string]service.User
	Agents map[string]service.User

	stop func() error
}

type sandboxOptions struct {
	Listen, LSQListen, LCListen string
	Rules                       *service.Rules
	Signed                      bool
	WebhookMillis               bool
	// Automation points LimeChat's automation-rule webhook at lsqbridge.
	Automation bool
	// WrapLeadSquared, when set, wraps the LeadSquared fake's handler
	// (tests that lose answers on the way back).
	WrapLeadSquared func(http.Handler) http.Handler
	// WrapLimeChat does the same for the LimeChat (and Flow-builder) fake.
	WrapLimeChat func(http.Handler) http.Handler
	// WrapBridge, when set, wraps lsqbridge's own handler (tests that
	// record its exchanges).
	WrapBridge func(http.Handler) http.Handler
	// Now is both fakes' clock (time.Now when nil).
	Now        func() time.Time
	AppOptions []appOption
	// poolMaxConns sizes the test world's database pool (tests only).
	poolMaxConns int32
	// requestsPer5s is the demo integration's LeadSquared pace (default 25).
	requestsPer5s int
}

// startSandbox starts both fakes and lsqbridge, applies the demo
// integration and points the fakes' webhooks at lsqbridge.
func startSandbox(ctx context.Context, cfg Config, pool *pgxpool.Pool, log *slog.Logger, o sandboxOptions) (*sandbox, error) {
	listen := func(addr string) (net.Listener, error) {
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		return net.Listen("tcp", addr)
	}
	s := &sandbox{Users: map[string]service.User{}, Agents: map[string]service.User{}}
	s.LSQHooks, s.LCHooks = fakehooks.New(nil), fakehooks.New(nil)
	s.LSQ = newDemoLeadSquared(s.LSQHooks, o.WebhookMillis, o.Now)
	s.LC = newDemoLimeChat(s.LCHooks, o.Now)
	for _, u := range s.LSQ.Users() {
		s.Users[u.Email] = u
	}
	for _, a := range s.LC.Agents() {
		s.Agents[a.Email] = a
	}

	var servers []*http.Server
	serveFake := func(h http.Handler, addr string) (string, error) {
		ln, err := listen(addr)
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(ln) //nolint:errcheck
		return "http://" + ln.Addr().String(), nil
	}
	var err error
	var lsqHandler http.Handler = s.LSQ
	if o.WrapLeadSquared != nil {
		lsqHandler = o.WrapLeadSquared(lsqHandler)
	}
	if s.LSQURL, err = serveFake(withPerson(lsqHandler, leadSquaredPerson(s.LSQ)), o.LSQListen); err != nil {
		return nil, fmt.Errorf("listen for the LeadSquared fake: %w", err)
	}
	var lcHandler http.Handler = s.LC
	if o.WrapLimeChat != nil {
		lcHandler = o.WrapLimeChat(lcHandler)
	}
	if s.LCURL, err = serveFake(withPerson(lcHandler, limeChatPerson(s.LC)), o.LCListen); err != nil {
		return nil, fmt.Errorf("listen for the LimeChat fake: %w", err)
	}

	rules := demoRules()
	if o.Rules != nil {
		rules = *o.Rules
	}
	icfg := &service.IntegrationConfig{
		ID: "demo", Name: "Sandbox demo",
		LeadSquared: service.LeadSquaredConfig{Host: s.LSQURL, AccessKey: demoLSQAccess, SecretKey: demoLSQSecret, RequestsPer5s: cmp.Or(o.requestsPer5s, 25),
			IntegrationUserID: s.LSQ.APIUserID()},
		LimeChat:    service.LimeChatConfig{BaseURL: s.LCURL, AccountID: 1, InboxID: 1, APIToken: demoLCToken},
		FlowBuilder: service.FlowBuilderConfig{URL: s.LCURL, AccountID: demoFBAccount, Key: demoFBKey},
		Rules:       rules,
		// The fakes listen on 127.0.0.1: the sandbox allows loopback,
		// explicitly, for its own integration and its platform clients.
		AllowLoopback: true,
	}
	if o.Signed {
		icfg.LimeChat.WebhookSecret = demoWebhookSig
	}
	if err := icfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo integration: %w", err)
	}

	cfg.AllowLoopback = true
	a, err := newApp(ctx, cfg, pool, log, o.AppOptions...)
	if err != nil {
		return nil, err
	}
	s.app = a
	res, err := a.integrations.Apply(ctx, icfg)
	if err != nil {
		return nil, err
	}
	s.Creds = res.Credentials
	if !res.Created {
		// The demo integration existed (a previous run): new credentials.
		for _, p := range service.Powers {
			secret, err := a.integrations.Rotate(ctx, "demo", p)
			if err != nil {
				return nil, err
			}
			s.Creds = withCredential(s.Creds, p, secret)
		}
	}
	if s.In, err = a.integrations.Get(ctx, "demo"); err != nil {
		return nil, err
	}
	if _, err := a.agents.Refresh(ctx, s.In); err != nil {
		return nil, fmt.Errorf("read the fakes' people: %w", err)
	}

	ln, err := listen(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	hdr := http.Header{"X-Lsqbridge-Token": {s.Creds.LeadSquared}}
	for _, ev := range leadsquared.WebhookEvents() {
		s.LSQ.SetWebhook(ev, s.URL+"/v1/webhooks/leadsquared/demo/"+ev, hdr)
	}
	var secret []byte
	if o.Signed {
		secret = []byte(demoWebhookSig)
	}
	s.LC.SetWebhook(s.URL+"/v1/webhooks/limechat/demo?token="+s.Creds.LimeChat, nil, secret)
	if o.Automation {
		s.LC.SetAutomationWebhook(s.URL+"/v1/webhooks/limechat/demo/automation?token="+s.Creds.Automation, nil)
	}

	if o.WrapBridge != nil {
		a.handler = o.WrapBridge(a.handler)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.serve(sctx, ln) }()
	s.stop = func() error {
		cancel()
		err := <-done
		s.LSQHooks.Close()
		s.LCHooks.Close()
		s.LSQ.Close()
		s.LC.Close()
		for _, srv := range servers {
			srv.Close()
		}
		return err
	}
	return s, nil
}

// Close stops lsqbridge and the fakes.
func (s *sandbox) Close() error { return s.stop() }

func cmdSandbox(e *env, args []string) error {
	fs := e.flagSet("sandbox")
	e.cfg.bindServe(fs)
	lsqAddr := fs.String("leadsquared-listen", "127.0.0.1:8081", "address of the LeadSquared fake")
	lcAddr := fs.String("limechat-listen", "127.0.0.1:8082", "address of the LimeChat fake")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := e.cfg.Validate(true, true); err != nil {
		return err
	}
	log := newLogger(e.stderr, e.cfg.LogLevel)
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrateUp(e.ctx, pool); err != nil {
		return err
	}
	// The fakes start empty every time, so the demo integration does too:
	// links to tickets of a previous run's fakes would collide.
	if _, err := pool.Exec(e.ctx, "DELETE FROM integrations WHERE id = 'demo'"); err != nil {
		return fmt.Errorf("reset the demo integration: %w", err)
	}
	s, err := startSandbox(e.ctx, e.cfg, pool, log, sandboxOptions{Listen: e.cfg.Listen, LSQListen: *lsqAddr, LCListen: *lcAddr, WebhookMillis: true, Automation: true})
	if err != nil {
		return err
	}
	printSandbox(e, s)
	<-e.ctx.Done()
	err = s.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
