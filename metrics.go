package aigateway

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aibackend/caddy-ai-gateway/gateway"
)

// metrics are the gateway's Prometheus collectors in Caddy's registry. Caddy makes a new registry for each
// config load, so each Provision registers its own; a second ai_gateway handler in the same config shares the
// first one's.
type metrics struct {
	requests    *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	cost        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	ttfb        *prometheus.HistogramVec
	attempts    *prometheus.CounterVec
	storeErrors prometheus.Counter
}

const metricsNamespace, metricsSubsystem = "caddy", "ai_gateway"

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: name, Help: help}, labels)
}

func histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: name, Help: help, Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10)}, labels)
}

// register registers c, or returns the collector already registered under its name.
func register[T prometheus.Collector](reg prometheus.Registerer, c T, err *error) T {
	if *err != nil {
		return c
	}
	if e := reg.Register(c); e != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(e, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		*err = e
	}
	return c
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var err error
	m := &metrics{
		requests: register(reg, counterVec("requests_total",
			"Chat completion requests by provider, model and status sent to the client.", "provider", "model", "status"), &err),
		tokens: register(reg, counterVec("tokens_total",
			"Tokens by provider, model, type (prompt, completion) and origin (reported, counted, estimated).",
			"provider", "model", "type", "origin"), &err),
		cost: register(reg, counterVec("cost_usd_total", "Cost in USD by provider and model.", "provider", "model"), &err),
		duration: register(reg, histogramVec("request_duration_seconds",
			"Whole request duration, streams included.", "provider"), &err),
		ttfb: register(reg, histogramVec("time_to_first_byte_seconds",
			"Time until the answer's first byte reached the client (the first token, for streams).", "provider"), &err),
		attempts: register(reg, counterVec("upstream_attempts_total",
			"Upstream attempts by target and outcome status, retries and fallbacks included.", "target", "status"), &err),
		storeErrors: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace,
			Subsystem: metricsSubsystem, Name: "rate_limit_store_errors_total", Help: "Failures of the rate-limit store."}), &err),
	}
	return m, err
}

// observe records one request. Model labels come only from answered requests, whose model an upstream
// accepted, so clients cannot grow the label set at will.
func (m *metrics) observe(res *gateway.Result, took time.Duration) {
	model := ""
	if res.Status == 200 {
		model = res.Provider + "/" + res.UpstreamModel
	}
	m.requests.WithLabelValues(res.Provider, model, strconv.Itoa(res.Status)).Inc()
	for _, a := range res.Attempts {
		m.attempts.WithLabelValues(a.Target, strconv.Itoa(a.Status)).Inc()
	}
	if res.Status != 200 {
		return
	}
	m.duration.WithLabelValues(res.Provider).Observe(took.Seconds())
	m.ttfb.WithLabelValues(res.Provider).Observe(res.TimeToFirstByte.Seconds())
	if res.Usage.Known() {
		origin := res.Usage.Origin.String()
		m.tokens.WithLabelValues(res.Provider, model, "prompt", origin).Add(float64(res.Usage.PromptTokens))
		m.tokens.WithLabelValues(res.Provider, model, "completion", origin).Add(float64(res.Usage.CompletionTokens))
	}
	if res.CostUSD > 0 {
		m.cost.WithLabelValues(res.Provider, model).Add(res.CostUSD)
	}
}
