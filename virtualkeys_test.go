package aigateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aibackend/caddy-ai-gateway/internal/redistest"
	"github.com/aibackend/caddy-ai-gateway/keys"
)

// TestVirtualKeysThroughTheHandler provisions virtual_keys from the Caddyfile, over memory and over a real
// three-node Redis Cluster, and runs a key's life through the handler: the management API, a model call, the
// metrics of the key and the audit log.
func TestVirtualKeysThroughTheHandler(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,`+
			`"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`)
	}))
	t.Cleanup(up.Close)
	const admin = "handler-admin-key-0123456789"
	for _, tc := range []struct{ name, store string }{{"memory", ""}, {"redis-cluster", "cluster"}} {
		t.Run(tc.name, func(t *testing.T) {
			store := ""
			if tc.store == "cluster" {
				c := redistest.StartCluster(t)
				var id [6]byte
				_, _ = rand.Read(id[:])
				store = "store redis {\naddress " + strings.Join(c.Addrs, " ") + "\ncluster\nprefix t" + hex.EncodeToString(id[:]) + ":\n}\n"
			}
			h := new(Handler)
			cfg := "ai_gateway {\nprovider openai {\nbase_url " + up.URL + "/v1\n}\nprice openai/* input 1 output 2\n" +
				"virtual_keys {\n" + store + "admin_keys " + admin + "\nconsole\n}\n}"
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(cfg)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			t.Cleanup(cancel)
			if err := h.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = h.Cleanup() })
			core, logs := observer.New(zapcore.InfoLevel)
			h.logger = zap.New(core)
			serve := func(method, path, key, body string) (int, string) {
				req := caddyhttp.PrepareRequest(httptest.NewRequest(method, path, strings.NewReader(body)), caddy.NewReplacer(), nil, &caddyhttp.Server{})
				req.Header.Set("Authorization", "Bearer "+key)
				rec := httptest.NewRecorder()
				if err := h.ServeHTTP(rec, req, nil); err != nil {
					t.Fatal(err)
				}
				return rec.Code, rec.Body.String()
			}

			code, out := serve(http.MethodPost, "/api/v1/keys", admin, `{"name":"handler key","tokens":"100000/1m"}`)
			id, secret := gjson.Get(out, "data.id").Str, gjson.Get(out, "key").Str
			if code != http.StatusCreated || secret == "" {
				t.Fatalf("create: %d %s", code, out)
			}
			for range 2 {
				if code, out := serve(http.MethodPost, "/api/v1/chat/completions", secret,
					`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`); code != http.StatusOK {
					t.Fatalf("chat with the new key: %d %s", code, out)
				}
			}
			if code, _ := serve(http.MethodGet, "/api/v1/console/", "", ""); code != http.StatusOK {
				t.Fatalf("console: %d", code)
			}
			if n := testutil.ToFloat64(h.metrics.keyRequests.WithLabelValues(id, "handler key")); n != 2 {
				t.Errorf("key_requests_total{key_id=%q} = %v, want 2", id, n)
			}
			if n := testutil.ToFloat64(h.metrics.keyTokens.WithLabelValues(id, "handler key", "completion")); n != 6 {
				t.Errorf("completion tokens of the key = %v, want 6", n)
			}
			entries := logs.FilterMessage("virtual key create").All()
			if len(entries) != 1 || entries[0].ContextMap()["key_id"] != id {
				t.Fatalf("audit entries %v", entries)
			}
			for _, e := range logs.All() {
				if strings.Contains(fmt.Sprint(e.ContextMap()), secret) || strings.Contains(fmt.Sprint(e.ContextMap()), admin) {
					t.Errorf("a log entry holds a secret: %s %v", e.Message, e.ContextMap())
				}
			}
		})
	}
}

// The per-key series are bounded: past maxKeySeries keys, further ones count under "other".
func TestKeyMetricsAreBounded(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxKeySeries + 50 {
		m.observeKey(&keys.Key{ID: fmt.Sprintf("k%011d", i), Name: "n"}, keys.Usage{Requests: 1, PromptTokens: 1})
	}
	if n := testutil.CollectAndCount(m.keyRequests); n != maxKeySeries+1 {
		t.Fatalf("%d series for %d keys, want %d and one for other", n, maxKeySeries+50, maxKeySeries)
	}
	if n := testutil.ToFloat64(m.keyRequests.WithLabelValues("other", "other")); n != 50 {
		t.Fatalf("other counted %v requests, want 50", n)
	}
}
