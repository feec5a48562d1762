package aigateway

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/usage"
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
	// answered caches the series of answered requests by endpoint, provider and model, so that observing
	// one looks its labels up once rather than in each collector.
	answered seriesCache
}

// seriesKey names the series of answered requests: label values from the fixed endpoint table and the
// configuration, never from the client.
type seriesKey struct{ endpoint, provider, model string }

// answeredSeries are the children of the collectors that one answered request updates.
type answeredSeries struct {
	requests, attempt prometheus.Counter
	duration, ttfb    prometheus.Observer
	// cost and tokens (indexed by usage.Origin, prompt then completion) are made when first added to, as
	// add makes them: a series that only ever had zero is not exported.
	cost   lazyCounter
	tokens [usage.Estimated + 1][2]lazyCounter
}

// lazyCounter is a counter child made when first added to.
type lazyCounter struct {
	c atomic.Pointer[prometheus.Counter]
}

// add adds v, when positive and finite, to the counter, made by get the first time.
func (l *lazyCounter) add(v float64, get func() (prometheus.Counter, error)) {
	if !(v > 0) || math.IsInf(v, 0) {
		return
	}
	c := l.c.Load()
	if c == nil {
		made, err := get()
		if err != nil {
			return
		}
		c = &made
		l.c.Store(c)
	}
	(*c).Add(v)
}

// maxCachedSeries bounds seriesCache; further series are looked up in the collectors each time.
const maxCachedSeries = 4096

type seriesCache struct {
	mu sync.RWMutex
	m  map[seriesKey]*answeredSeries
}

// of returns the cached series of k, made by build when new; nil when the cache is full or build fails.
func (c *seriesCache) of(k seriesKey, build func() (*answeredSeries, error)) *answeredSeries {
	c.mu.RLock()
	s := c.m[k]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.m[k]; s != nil || len(c.m) >= maxCachedSeries {
		return s
	}
	s, err := build()
	if err != nil {
		return nil
	}
	if c.m == nil {
		c.m = make(map[seriesKey]*answeredSeries)
	}
	c.m[k] = s
	return s
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
	if res.Status == http.StatusOK && len(res.Attempts) == 1 && res.Attempts[0].Status == http.StatusOK {
		if m.observeAnswered(res, took) {
			return
		}
	}
	m.observeEach(res, took)
}

// observeEach records a request looking each collector's labels up.
func (m *metrics) observeEach(res *gateway.Result, took time.Duration) {
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

// observeAnswered records a request its first attempt answered, the common case, through the cached
// series; false when they could not be had (the caller then looks each label up).
func (m *metrics) observeAnswered(res *gateway.Result, took time.Duration) bool {
	k := seriesKey{res.Endpoint, res.Provider, res.Attempts[0].Label}
	s := m.answered.of(k, func() (*answeredSeries, error) {
		var s answeredSeries
		var err error
		get := func(vec *prometheus.CounterVec, labels ...string) prometheus.Counter {
			c, e := vec.GetMetricWithLabelValues(labels...)
			err = errors.Join(err, e)
			return c
		}
		s.requests = get(m.requests, k.endpoint, k.provider, k.model, "200")
		s.attempt = get(m.attempts, k.model, "200")
		var e1, e2 error
		s.duration, e1 = m.duration.GetMetricWithLabelValues(k.provider)
		s.ttfb, e2 = m.ttfb.GetMetricWithLabelValues(k.provider)
		return &s, errors.Join(err, e1, e2)
	})
	if s == nil {
		return false
	}
	s.requests.Inc()
	s.attempt.Inc()
	s.duration.Observe(max(took.Seconds(), 0))
	s.ttfb.Observe(max(res.TimeToFirstByte.Seconds(), 0))
	if o := res.Usage.Origin; res.Usage.Known() && o >= usage.Reported && o <= usage.Estimated {
		for i, n := range [2]int{res.Usage.PromptTokens, res.Usage.CompletionTokens} {
			s.tokens[o][i].add(float64(n), func() (prometheus.Counter, error) {
				return m.tokens.GetMetricWithLabelValues(k.endpoint, k.provider, k.model, [2]string{"prompt", "completion"}[i], o.String())
			})
		}
	}
	s.cost.add(res.CostUSD, func() (prometheus.Counter, error) {
		return m.cost.GetMetricWithLabelValues(k.endpoint, k.provider, k.model)
	})
	return true
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
