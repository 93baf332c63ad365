// Package sandbox runs lsqbridge against in-process fakes of LeadSquared and
// LimeChat with a demo integration (`lsqbridge sandbox`, `make run`), serves
// the fakes' "person" API for acting as a human over HTTP, and runs one fake
// as its own process (`lsqbridge fake`). The end-to-end tests and bench
// start it in-process.
package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/service"
)

// Sandbox is lsqbridge running against in-process fakes of both platforms.
type Sandbox struct {
	App      *app.App
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

// Options choose where the sandbox listens and how it behaves; the zero
// value listens on free loopback ports with the demo rules.
type Options struct {
	Listen, LSQListen, LCListen string
	// Rules replace the demo rules.
	Rules *service.Rules
	// Signed gives LimeChat's webhook a secret, so every delivery is signed.
	Signed bool
	// WebhookMillis has the LeadSquared fake's webhooks carry milliseconds
	// in their times, as LeadSquared's do.
	WebhookMillis bool
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
	Now func() time.Time
	// App adjusts lsqbridge itself (tests and bench drive the relay).
	App app.Options
	// RequestsPer5s is the demo integration's LeadSquared pace (default 25).
	RequestsPer5s int
}

// Start starts both fakes and lsqbridge, applies the demo integration and
// points the fakes' webhooks at lsqbridge. The database must be migrated.
func Start(ctx context.Context, cfg app.Config, pool *pgxpool.Pool, log *slog.Logger, o Options) (*Sandbox, error) {
	listen := func(addr string) (net.Listener, error) {
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		return net.Listen("tcp", addr)
	}
	s := &Sandbox{Users: map[string]service.User{}, Agents: map[string]service.User{}}
	s.LSQHooks, s.LCHooks = fakehooks.New(nil), fakehooks.New(nil)
	s.LSQ = NewLeadSquared(s.LSQHooks, o.WebhookMillis, o.Now)
	s.LC = NewLimeChat(s.LCHooks, o.Now)
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

	rules := DemoRules()
	if o.Rules != nil {
		rules = *o.Rules
	}
	icfg := &service.IntegrationConfig{
		ID: IntegrationID, Name: "Sandbox demo",
		LeadSquared: service.LeadSquaredConfig{Host: s.LSQURL, AccessKey: LeadSquaredAccessKey, SecretKey: LeadSquaredSecretKey,
			RequestsPer5s: cmp.Or(o.RequestsPer5s, 25), IntegrationUserID: s.LSQ.APIUserID()},
		LimeChat:    service.LimeChatConfig{BaseURL: s.LCURL, AccountID: 1, InboxID: 1, APIToken: LimeChatToken},
		FlowBuilder: service.FlowBuilderConfig{URL: s.LCURL, AccountID: FlowBuilderAccount, Key: FlowBuilderKey},
		Rules:       rules,
		// The fakes listen on 127.0.0.1: the sandbox allows loopback,
		// explicitly, for its own integration and its platform clients.
		AllowLoopback: true,
	}
	if o.Signed {
		icfg.LimeChat.WebhookSecret = WebhookSecret
	}
	if err := icfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo integration: %w", err)
	}

	cfg.AllowLoopback = true
	a, err := app.New(ctx, cfg, pool, log, o.App)
	if err != nil {
		return nil, err
	}
	s.App = a
	res, err := a.Integrations.Apply(ctx, icfg)
	if err != nil {
		return nil, err
	}
	s.Creds = res.Credentials
	if !res.Created {
		// The demo integration existed (a previous run): new credentials.
		for _, p := range service.Powers {
			secret, err := a.Integrations.Rotate(ctx, IntegrationID, p)
			if err != nil {
				return nil, err
			}
			s.Creds = s.Creds.With(p, secret)
		}
	}
	if s.In, err = a.Integrations.Get(ctx, IntegrationID); err != nil {
		return nil, err
	}
	if _, err := a.Agents.Refresh(ctx, s.In); err != nil {
		return nil, fmt.Errorf("read the fakes' people: %w", err)
	}

	ln, err := listen(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	hdr := http.Header{"X-Lsqbridge-Token": {s.Creds.LeadSquared}}
	for _, ev := range leadsquared.WebhookEvents() {
		s.LSQ.SetWebhook(ev, s.URL+"/v1/webhooks/leadsquared/"+IntegrationID+"/"+ev, hdr)
	}
	var secret []byte
	if o.Signed {
		secret = []byte(WebhookSecret)
	}
	s.LC.SetWebhook(s.URL+"/v1/webhooks/limechat/"+IntegrationID+"?token="+s.Creds.LimeChat, nil, secret)
	if o.Automation {
		s.LC.SetAutomationWebhook(s.URL+"/v1/webhooks/limechat/"+IntegrationID+"/automation?token="+s.Creds.Automation, nil)
	}

	if o.WrapBridge != nil {
		a.Handler = o.WrapBridge(a.Handler)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }()
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
func (s *Sandbox) Close() error { return s.stop() }

// Reset deletes the demo integration and everything of it. The fakes start
// empty every time, so the demo integration must too: links to tickets of a
// previous run's fakes would collide.
func Reset(ctx context.Context, pool *pgxpool.Pool) error {
	if err := service.DeleteIntegration(ctx, pool, IntegrationID); err != nil {
		return fmt.Errorf("reset the demo integration: %w", err)
	}
	return nil
}

// Run is `lsqbridge sandbox`: it migrates the database, starts the sandbox
// afresh with lsqbridge on cfg.Listen and the fakes on the given addresses,
// tells the person at w what runs where, and serves until ctx ends.
func Run(ctx context.Context, cfg app.Config, log *slog.Logger, w io.Writer, lsqListen, lcListen string) error {
	pool, err := app.OpenPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := app.MigrateUp(ctx, pool); err != nil {
		return err
	}
	if err := Reset(ctx, pool); err != nil {
		return err
	}
	s, err := Start(ctx, cfg, pool, log, Options{Listen: cfg.Listen, LSQListen: lsqListen, LCListen: lcListen, WebhookMillis: true, Automation: true})
	if err != nil {
		return err
	}
	s.Print(w)
	<-ctx.Done()
	err = s.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
