package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
)

// countResponses counts the answers of the webhook routes by route and
// status code (lsqbridge_webhook_http_responses_total): a rise of 5xx means
// the database cannot be written, a rise of 4xx that a platform sends what
// lsqbridge refuses.
func countResponses(reg *prometheus.Registry) mux.MiddlewareFunc {
	if reg == nil {
		return func(h http.Handler) http.Handler { return h }
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lsqbridge_webhook_http_responses_total",
		Help: "Answers of the webhook routes by route (leadsquared, limechat, automation) and HTTP status code.",
	}, []string{"route", "code"})
	reg.MustRegister(c)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			route := webhookRoute(r)
			if route == "" {
				next.ServeHTTP(w, r)
				return
			}
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			c.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		})
	}
}

// webhookRoute names the webhook route a request matched, "" for others.
func webhookRoute(r *http.Request) string {
	cur := mux.CurrentRoute(r)
	if cur == nil {
		return ""
	}
	tmpl, _ := cur.GetPathTemplate()
	switch {
	case strings.HasPrefix(tmpl, "/v1/webhooks/leadsquared/"):
		return "leadsquared"
	case strings.HasSuffix(tmpl, "/automation"):
		return "automation"
	case strings.HasPrefix(tmpl, "/v1/webhooks/limechat/"):
		return "limechat"
	}
	return ""
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
