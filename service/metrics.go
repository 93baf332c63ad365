package service

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the sync engine's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	events    *prometheus.CounterVec
	fuses     *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	reconcile *prometheus.CounterVec
}

// NewMetrics registers the engine's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lsqbridge_webhooks_total",
			Help: "Inbound events by source and outcome (applied, echo, stale, duplicate, unlinked, unmatched_agent, rejected, …).",
		}, []string{"source", "outcome"}),
		fuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lsqbridge_loop_fuse_trips_total", Help: "Links paused by the loop fuse.",
		}, []string{"integration"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lsqbridge_agent_directory_refreshes_total", Help: "Agent directory refreshes by result.",
		}, []string{"result"}),
	}
	m.reconcile = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lsqbridge_reconcile_errors_total", Help: "Reconcile reads or passes that failed, by integration (the next pass tries again).",
	}, []string{"integration"})
	reg.MustRegister(m.events, m.fuses, m.refreshes, m.reconcile)
	return m
}

func (m *Metrics) event(source, outcome string) {
	if m != nil {
		m.events.WithLabelValues(source, outcome).Inc()
	}
}

func (m *Metrics) fuse(integration string) {
	if m != nil {
		m.fuses.WithLabelValues(integration).Inc()
	}
}

func (m *Metrics) refresh(result string) {
	if m != nil {
		m.refreshes.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) reconcileErrors(integration string, n int) {
	if m != nil && n > 0 {
		m.reconcile.WithLabelValues(integration).Add(float64(n))
	}
}
