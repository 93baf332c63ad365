package limechat

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/lsqbridge/lsqbridge/service"
)

// FlowBuilderConfig configures a FlowBuilder client.
type FlowBuilderConfig struct {
	// BaseURL is the Flow-builder host, e.g. https://flow-builder.limechat.ai.
	BaseURL string
	// AccountID is sent in x-fb-account-id (outbound.limechat.ai › settings › account).
	AccountID string
	// Key is sent in x-limechat-uat; never in a URL or an error.
	Key string
	// HTTPClient is used for every request; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Timeout bounds the call (default 15s).
	Timeout time.Duration
}

// FlowBuilder sends Flow-builder custom events, which start WhatsApp
// campaigns. It is safe for concurrent use.
type FlowBuilder struct {
	url string
	req request
}

// flowBuilderRetries is how often SendEvent retries a request that never
// left (connection refused, DNS): those cannot have sent a message.
const flowBuilderRetries = 2

// NewFlowBuilder returns a FlowBuilder for cfg, filling defaults.
func NewFlowBuilder(cfg FlowBuilderConfig) *FlowBuilder {
	return &FlowBuilder{req: request{
		op:      "send flow event",
		method:  http.MethodPost,
		url:     strings.TrimRight(cfg.BaseURL, "/") + "/api/v1/cvf-events",
		header:  map[string]string{"x-limechat-uat": cfg.Key, "x-fb-account-id": cfg.AccountID},
		hc:      noRedirects(cfg.HTTPClient),
		timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		secrets: []string{cfg.Key},
	}}
}

// SendEvent posts a custom event (POST /api/v1/cvf-events, body
// {distinct_id, phone, event, data}). Once the request has been written it
// is NEVER retried inside the call, whatever happens: a customer must not get
// the same WhatsApp message twice. A timeout after writing is ClassUncertain
// and a person must decide. Only failures before the request left are retried.
// An event name that is empty or has whitespace is refused locally with a
// permanent error wrapping ErrInvalidEventName.
func (f *FlowBuilder) SendEvent(ctx context.Context, ev service.FlowEvent) error {
	if ev.Event == "" || strings.IndexFunc(ev.Event, unicode.IsSpace) >= 0 {
		return &APIError{Op: f.req.op, Message: fmt.Sprintf("event name %q must be non-empty without spaces", ev.Event), Err: ErrInvalidEventName, class: service.ClassPermanent}
	}
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return &APIError{Op: f.req.op, Message: "encode request: " + err.Error(), Err: err, class: service.ClassPermanent}
	}
	r := f.req
	r.body = body
	for attempt := 0; ; attempt++ {
		err := r.send(ctx, nil)
		if err == nil {
			return nil
		}
		if err.written || err.StatusCode != 0 || attempt >= flowBuilderRetries || ctx.Err() != nil {
			return err
		}
		if sleep(ctx, backoff(attempt)) != nil {
			return err
		}
	}
}
