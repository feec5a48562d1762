package aigateway

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/keys"
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
	// keyRequests, keyTokens and keyCost are per virtual key, labelled with its id and name from the store
	// (never its secret); keyLabels bounds how many keys get their own series.
	keyRequests *prometheus.CounterVec
	keyTokens   *prometheus.CounterVec
	keyCost     *prometheus.CounterVec
	keyLabels   *keyLabels
}

// maxKeySeries is how many virtual keys get series of their own in one process; the usage of any further
// key is counted under key_id and key_name "other". Keys are created by admins, not clients, but a
// deployment with tens of thousands of them should not grow Prometheus without bound.
const maxKeySeries = 1000

// keyLabels remembers which keys have series.
type keyLabels struct {
	mu   sync.Mutex
	seen map[string]string
}

// of returns the label values of k: its id and current name, or "other" once maxKeySeries keys have series.
func (l *keyLabels) of(k *keys.Key) (id, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.seen[k.ID]; ok && n == k.Name {
		return k.ID, k.Name
	}
	if _, ok := l.seen[k.ID]; !ok && len(l.seen) >= maxKeySeries {
		return "other", "other"
	}
	l.seen[k.ID] = k.Name
	return k.ID, k.Name
}

// observeKey records one finished request of a virtual key.
func (m *metrics) observeKey(k *keys.Key, u keys.Usage) {
	id, name := m.keyLabels.of(k)
	if c, err := m.keyRequests.GetMetricWithLabelValues(id, name); err == nil {
		c.Inc()
	}
	add(m.keyTokens, float64(u.PromptTokens), id, name, "prompt")
	add(m.keyTokens, float64(u.CompletionTokens), id, name, "completion")
	add(m.keyCost, u.CostUSD, id, name)
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
			"Requests by endpoint, provider, model and status sent to the client.", "endpoint", "provider", "model", "status"), &err),
		tokens: register(reg, counterVec("tokens_total",
			"Tokens by endpoint, provider, model, type (prompt, completion) and origin (reported, counted, estimated).",
			"endpoint", "provider", "model", "type", "origin"), &err),
		cost: register(reg, counterVec("cost_usd_total", "Cost in USD by endpoint, provider and model.", "endpoint", "provider", "model"), &err),
		duration: register(reg, histogramVec("request_duration_seconds",
			"Whole request duration, streams included.", "provider"), &err),
		ttfb: register(reg, histogramVec("time_to_first_byte_seconds",
			"Time until the answer's first byte reached the client (the first token, for streams).", "provider"), &err),
		attempts: register(reg, counterVec("upstream_attempts_total",
			"Upstream attempts by target and outcome status, retries and fallbacks included.", "target", "status"), &err),
		storeErrors: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace,
			Subsystem: metricsSubsystem, Name: "rate_limit_store_errors_total", Help: "Failures of the rate-limit store."}), &err),
		keyRequests: register(reg, counterVec("key_requests_total",
			"Requests of each virtual key that reached an upstream.", "key_id", "key_name"), &err),
		keyTokens: register(reg, counterVec("key_tokens_total",
			"Tokens of each virtual key by type (prompt, completion).", "key_id", "key_name", "type"), &err),
		keyCost:   register(reg, counterVec("key_cost_usd_total", "Cost in USD of each virtual key.", "key_id", "key_name"), &err),
		keyLabels: &keyLabels{seen: make(map[string]string)},
	}
	return m, err
}

// observe records one request. Label values are only ever configured text or fixed names: endpoints
// (gateway.Endpoint names, empty for unknown paths), provider names, and targets'
// labels (router.Target.Label), which are "provider/model" for a model the configuration names and
// "provider/other" for any name a client chose; so clients cannot grow the label set. It never panics: a
// label value Prometheus refuses (not valid UTF-8, from a careless configuration) drops that sample, and only
// positive, finite amounts are added.
func (m *metrics) observe(res *gateway.Result, took time.Duration) {
	model := ""
	if res.Status == http.StatusOK && len(res.Attempts) > 0 {
		model = res.Attempts[len(res.Attempts)-1].Label
	}
	if c, err := m.requests.GetMetricWithLabelValues(res.Endpoint, res.Provider, model, statusLabel(res.Status)); err == nil {
		c.Inc()
	}
	for _, a := range res.Attempts {
		if c, err := m.attempts.GetMetricWithLabelValues(a.Label, statusLabel(a.Status)); err == nil {
			c.Inc()
		}
	}
	if res.Status != http.StatusOK {
		return
	}
	if h, err := m.duration.GetMetricWithLabelValues(res.Provider); err == nil {
		h.Observe(max(took.Seconds(), 0))
	}
	if h, err := m.ttfb.GetMetricWithLabelValues(res.Provider); err == nil {
		h.Observe(max(res.TimeToFirstByte.Seconds(), 0))
	}
	if res.Usage.Known() {
		origin := res.Usage.Origin.String()
		add(m.tokens, float64(res.Usage.PromptTokens), res.Endpoint, res.Provider, model, "prompt", origin)
		add(m.tokens, float64(res.Usage.CompletionTokens), res.Endpoint, res.Provider, model, "completion", origin)
	}
	add(m.cost, res.CostUSD, res.Endpoint, res.Provider, model)
}

// add adds v to the counter of labels when v is positive and finite (a counter panics on a negative
// amount), and when Prometheus accepts the label values.
func add(vec *prometheus.CounterVec, v float64, labels ...string) {
	if !(v > 0) || math.IsInf(v, 0) {
		return
	}
	if c, err := vec.GetMetricWithLabelValues(labels...); err == nil {
		c.Add(v)
	}
}

// statusLabel is an HTTP status as its label value: a constant for the statuses the gateway and its
// upstreams commonly answer with, so that observing a request allocates nothing for it.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 405:
		return "405"
	case 408:
		return "408"
	case 413:
		return "413"
	case 422:
		return "422"
	case 429:
		return "429"
	case 499:
		return "499"
	case 500:
		return "500"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}
