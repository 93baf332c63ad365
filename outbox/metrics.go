package outbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/db"
)

// Metrics are the relay's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	actions    *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	rateLimits *prometheus.CounterVec
}

// NewMetrics registers the relay's series, and a collector that reads the
// outbox depth and age from the database at scrape time.
func NewMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) *Metrics {
	m := &Metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lsqbridge_actions_total", Help: "Outbox delivery attempts by action kind and resulting status.",
		}, []string{"kind", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lsqbridge_action_delivery_seconds", Help: "Time from enqueue to delivery, by action kind.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}, []string{"kind"}),
		rateLimits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lsqbridge_rate_limit_pauses_total", Help: "Platform rate-limit answers that paused an integration.",
		}, []string{"integration"}),
	}
	reg.MustRegister(m.actions, m.latency, m.rateLimits, &depthCollector{q: db.New(pool)})
	return m
}

func (m *Metrics) observe(a Action, status string, o Outcome, _ time.Duration) {
	if m == nil || o.Deferred {
		return // a deferred action was not attempted
	}
	m.actions.WithLabelValues(a.Kind, status).Inc()
	if status == StatusDelivered {
		m.latency.WithLabelValues(a.Kind).Observe(time.Since(a.CreatedAt).Seconds())
	}
	if o.RateLimited {
		m.rateLimits.WithLabelValues(a.IntegrationID).Inc()
	}
}

var (
	depthDesc = prometheus.NewDesc("lsqbridge_outbox_depth", "Outbox rows by integration and status (pending, delivering, dead).",
		[]string{"integration", "status"}, nil)
	ageDesc = prometheus.NewDesc("lsqbridge_outbox_oldest_seconds", "Age of the oldest outbox row by integration and status.",
		[]string{"integration", "status"}, nil)
	heldDesc = prometheus.NewDesc("lsqbridge_outbox_held_links",
		"Links with a dead action, which holds the link's later actions until a person retries or drops it.",
		[]string{"integration"}, nil)
)

type depthCollector struct{ q *db.Queries }

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- ageDesc
	ch <- heldDesc
}

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.q.OutboxStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(r.N), r.IntegrationID, r.Status)
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, r.OldestSeconds, r.IntegrationID, r.Status)
		if r.Status == StatusDead {
			ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(r.Links), r.IntegrationID)
		}
	}
}
