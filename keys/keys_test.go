package keys_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/internal/redistest"
	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

const adminKey = "admin-key-0123456789abcdef"

// servers are the Redis server and cluster the tests share, started by TestMain.
var (
	server   *redistest.Server
	cluster  *redistest.Cluster
	sentinel *redistest.Sentinel
	missing  string
)

func TestMain(m *testing.M) {
	if missing = redistest.Missing(); missing == "" {
		var err error
		if server, err = redistest.NewServer(); err == nil {
			cluster, err = redistest.NewCluster()
		}
		if err == nil {
			sentinel, err = redistest.NewSentinel(server)
		}
		if err != nil {
			missing = err.Error()
		}
	}
	code := m.Run()
	if sentinel != nil {
		sentinel.Close()
	}
	if cluster != nil {
		cluster.Close()
	}
	if server != nil {
		server.Close()
	}
	os.Exit(code)
}

// stores is one way of keeping keys: a key store and a counter store, which two gateways may share.
type stores struct {
	keys     keys.Store
	counters ratelimit.Store
}

// storeKinds builds fresh stores of each kind: memory, one Redis, a Redis Cluster. Each call of a kind's
// function returns stores over the same data (two gateways sharing one Redis); memory shares one instance.
func storeKinds(t *testing.T) map[string]func() stores {
	var id [6]byte
	_, _ = rand.Read(id[:])
	prefix := "aigwtest:" + hex.EncodeToString(id[:]) + ":"
	mem := stores{keys.NewMemoryStore(), ratelimit.NewMemoryStore()}
	redisStores := func(up bool, o ratelimit.RedisOptions) stores {
		if !up {
			if os.Getenv("CI") == "true" {
				t.Fatalf("Redis tests must run in CI: %s", missing)
			}
			t.Skip(missing)
		}
		o.Prefix = prefix
		ks, err := keys.NewRedisStore(o)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := ratelimit.NewRedisStore(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ks.Destruct(); _ = cs.Destruct() })
		return stores{ks, cs}
	}
	return map[string]func() stores{
		"memory": func() stores { return mem },
		"redis":  func() stores { return redisStores(server != nil, ratelimit.RedisOptions{Address: addr(server)}) },
		"redis-sentinel": func() stores {
			if sentinel == nil {
				return redisStores(false, ratelimit.RedisOptions{})
			}
			return redisStores(true, ratelimit.RedisOptions{Address: sentinel.Addr, MasterName: sentinel.MasterName})
		},
		"redis-cluster": func() stores {
			var addrs []string
			if cluster != nil {
				addrs = cluster.Addrs
			}
			return redisStores(cluster != nil, ratelimit.RedisOptions{Addresses: addrs, Cluster: true})
		},
	}
}

func addr(s *redistest.Server) string {
	if s == nil {
		return ""
	}
	return s.Addr
}

// eachStore runs test with each kind of store.
func eachStore(t *testing.T, test func(t *testing.T, open func() stores)) {
	for _, name := range []string{"memory", "redis", "redis-sentinel", "redis-cluster"} {
		t.Run(name, func(t *testing.T) { test(t, storeKinds(t)[name]) })
	}
}

// upstream is a fake OpenAI-compatible server answering every chat request with the given usage.
func upstream(t *testing.T, prompt, completion int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,`+
			`"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, prompt, completion, prompt+completion)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// node is one gateway: the management API and the engine, over shared stores.
type node struct {
	m     *keys.Manager
	g     *gateway.Gateway
	mu    sync.Mutex
	audit []keys.Audit
}

func (n *node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n.m.Serves(r.URL.Path) {
		n.m.ServeHTTP(w, r)
		return
	}
	n.g.ServeHTTP(w, r)
}

// newNode builds a gateway over st whose provider "openai" is base; openai/priced costs 1 USD per million
// prompt tokens and 2 per million completion tokens.
func newNode(t *testing.T, st stores, base string, static ...string) *node {
	t.Helper()
	n := &node{}
	var err error
	n.m, err = keys.New(keys.Config{Store: st.keys, Counters: st.counters, AdminKeys: []string{adminKey},
		StaticKeys: static, Console: true, Audit: func(a keys.Audit) {
			n.mu.Lock()
			n.audit = append(n.audit, a)
			n.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	prices, err := usage.NewPriceTable([]usage.PriceRule{{Pattern: "openai/priced", Price: usage.Price{Input: 1, Output: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	n.g, err = gateway.New(gateway.Config{
		Providers: []gateway.Provider{{Name: "openai", BaseURL: base, APIKeys: []string{"sk-upstream"},
			Dialect: transform.NewOpenAI(transform.OpenAIOptions{})}},
		Aliases:    map[string]string{"cheap": "openai/mini", "dear": "openai/priced"},
		ClientKeys: static, Keys: n.m, Prices: prices, ReportCost: true,
		OnStoreError: func(err error) { t.Errorf("store error: %v", err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.g.Close)
	return n
}

// call sends a request to h and returns the status and body.
func call(t *testing.T, h http.Handler, method, path, key, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func chat(t *testing.T, h http.Handler, key, model string) (int, string) {
	t.Helper()
	return call(t, h, http.MethodPost, "/v1/chat/completions", key,
		`{"model":"`+model+`","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`)
}

// create makes a key through the API and returns its id and secret.
func create(t *testing.T, h http.Handler, body string) (id, secret string) {
	t.Helper()
	code, out := call(t, h, http.MethodPost, "/v1/keys", adminKey, body)
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, code, out)
	}
	return gjson.Get(out, "data.id").Str, gjson.Get(out, "key").Str
}

func TestKeyLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() stores) {
		base := upstream(t, 10, 5)
		a := newNode(t, open(), base)
		b := newNode(t, open(), base) // another gateway on the same store

		id, secret := create(t, a, `{"name":"team search","metadata":{"team":"search"},"requests":"100/1m"}`)
		if !strings.HasPrefix(secret, "sk-aigw-"+id+"_") || len(secret) < 60 {
			t.Fatalf("secret %q: want sk-aigw-<id>_ and 52 random characters", secret)
		}
		if code, out := chat(t, b, secret, "openai/mini"); code != http.StatusOK {
			t.Fatalf("a key created on one gateway is refused on another: %d %s", code, out)
		}

		// self-service: the key's own usage, never its secret
		code, out := call(t, b, http.MethodGet, "/v1/key", secret, "")
		if code != http.StatusOK || gjson.Get(out, "data.today.requests").Int() != 1 ||
			gjson.Get(out, "data.today.prompt_tokens").Int() != 10 || gjson.Get(out, "data.today.completion_tokens").Int() != 5 ||
			gjson.Get(out, "data.requests").Str != "100/1m" || len(gjson.Get(out, "data.daily").Array()) != 30 {
			t.Fatalf("GET /key: %d %s", code, out)
		}

		// list and get never show the secret or its hash
		_, list := call(t, a, http.MethodGet, "/v1/keys", adminKey, "")
		_, one := call(t, a, http.MethodGet, "/v1/keys/"+id, adminKey, "")
		stored, err := a.m.Store().Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{list, one, out} {
			if strings.Contains(s, secret[len("sk-aigw-"+id+"_"):]) || strings.Contains(s, stored.SecretHash) {
				t.Fatalf("an answer shows the secret or its hash: %s", s)
			}
		}
		if gjson.Get(list, "total").Int() != 1 || gjson.Get(list, "data.0.name").Str != "team search" ||
			gjson.Get(list, "data.0.status").Str != "active" || gjson.Get(list, "data.0.metadata.team").Str != "search" {
			t.Fatalf("list: %s", list)
		}

		// disable through b: refused on a at the next request; enable again
		if code, out := call(t, b, http.MethodPatch, "/v1/keys/"+id, adminKey, `{"disabled":true}`); code != http.StatusOK ||
			gjson.Get(out, "data.status").Str != "disabled" {
			t.Fatalf("PATCH disabled: %d %s", code, out)
		}
		if code, out := chat(t, a, secret, "openai/mini"); code != http.StatusForbidden || gjson.Get(out, "error.code").Str != "key_disabled" {
			t.Fatalf("a disabled key: %d %s", code, out)
		}
		call(t, b, http.MethodPatch, "/v1/keys/"+id, adminKey, `{"disabled":false}`)
		if code, _ := chat(t, a, secret, "openai/mini"); code != http.StatusOK {
			t.Fatalf("an enabled key: %d", code)
		}

		// rotate: the old secret is refused from then on, the new one works
		code, rot := call(t, a, http.MethodPost, "/v1/keys/"+id+"/rotate", adminKey, "")
		fresh := gjson.Get(rot, "key").Str
		if code != http.StatusOK || fresh == "" || fresh == secret || gjson.Get(rot, "data.id").Str != id {
			t.Fatalf("rotate: %d %s", code, rot)
		}
		if code, _ := chat(t, b, secret, "openai/mini"); code != http.StatusUnauthorized {
			t.Fatalf("the old secret after a rotation: %d, want 401", code)
		}
		if code, _ := chat(t, b, fresh, "openai/mini"); code != http.StatusOK {
			t.Fatalf("the new secret after a rotation: %d", code)
		}

		// revoke through b: refused on a at the next request
		if code, out := call(t, b, http.MethodDelete, "/v1/keys/"+id, adminKey, ""); code != http.StatusOK || !gjson.Get(out, "deleted").Bool() {
			t.Fatalf("DELETE: %d %s", code, out)
		}
		if code, out := chat(t, a, fresh, "openai/mini"); code != http.StatusUnauthorized || gjson.Get(out, "error.code").Str != "invalid_api_key" {
			t.Fatalf("a revoked key: %d %s", code, out)
		}
		if code, _ := call(t, a, http.MethodGet, "/v1/keys/"+id, adminKey, ""); code != http.StatusNotFound {
			t.Fatalf("GET a revoked key: %d, want 404", code)
		}

		// audit: one entry per change, naming the admin's identity and the key, never a secret
		var actions []string
		for _, n := range []*node{a, b} {
			for _, e := range n.audit {
				actions = append(actions, e.Action)
				if e.KeyID != id || !strings.HasPrefix(e.Admin, "admin-") || strings.Contains(fmt.Sprint(e), adminKey) ||
					strings.Contains(fmt.Sprint(e), "sk-aigw-") {
					t.Errorf("audit entry %+v", e)
				}
			}
		}
		if got := strings.Join(actions, " "); got != "create rotate update update delete" {
			t.Errorf("audit actions %q", got)
		}
	})
}

func TestAdminAndClientKeysStayInTheirLanes(t *testing.T) {
	base := upstream(t, 1, 1)
	st := stores{keys.NewMemoryStore(), ratelimit.NewMemoryStore()}
	n := newNode(t, st, base, "static-client-key-1")
	_, secret := create(t, n, `{"name":"c"}`)

	if code, out := chat(t, n, adminKey, "openai/mini"); code != http.StatusForbidden || gjson.Get(out, "error.code").Str != "admin_key_not_allowed" {
		t.Fatalf("an admin key calling a model: %d %s", code, out)
	}
	for _, k := range []string{secret, "static-client-key-1"} {
		for _, req := range [][2]string{{http.MethodGet, "/v1/keys"}, {http.MethodPost, "/v1/keys"}, {http.MethodDelete, "/v1/keys/abcdefghijkl"}} {
			if code, out := call(t, n, req[0], req[1], k, `{"name":"x"}`); code != http.StatusForbidden || gjson.Get(out, "error.code").Str != "admin_key_required" {
				t.Fatalf("a client key on %s %s: %d %s", req[0], req[1], code, out)
			}
		}
	}
	for _, k := range []string{"", "nonsense", "sk-aigw-aaaaaaaaaaaa_" + strings.Repeat("a", 52)} {
		if code, _ := call(t, n, http.MethodGet, "/v1/keys", k, ""); code != http.StatusUnauthorized {
			t.Fatalf("key %q on GET /keys: %d, want 401", k, code)
		}
		if code, _ := chat(t, n, k, "openai/mini"); code != http.StatusUnauthorized {
			t.Fatalf("key %q on chat: %d, want 401", k, code)
		}
	}
	if code, _ := chat(t, n, "static-client-key-1", "openai/mini"); code != http.StatusOK {
		t.Fatalf("a static client key beside virtual keys: %d", code)
	}
	if list, _, _ := st.keys.List(context.Background(), 0, 10); len(list) != 1 {
		t.Fatalf("client keys created keys: %d", len(list))
	}
}

func TestAllowedModelsAfterAliasResolution(t *testing.T) {
	n := newNode(t, stores{keys.NewMemoryStore(), ratelimit.NewMemoryStore()}, upstream(t, 1, 1))
	_, secret := create(t, n, `{"name":"mini only","models":["openai/mini*"]}`)
	for model, want := range map[string]int{"openai/mini": 200, "cheap": 200, "openai/priced": 403, "dear": 403} {
		code, out := chat(t, n, secret, model)
		if code != want {
			t.Errorf("model %s: %d %s, want %d", model, code, out, want)
		}
		if code == http.StatusForbidden && gjson.Get(out, "error.code").Str != "model_not_allowed" {
			t.Errorf("model %s: %s", model, out)
		}
	}
	// the model list shows only what the key may reach
	_, list := call(t, n, http.MethodGet, "/v1/models", secret, "")
	if ids := gjson.Get(list, "data.#.id").String(); ids != `["cheap"]` {
		t.Errorf("GET /v1/models with the key lists %s, want only cheap", ids)
	}
	if code, _ := call(t, n, http.MethodGet, "/v1/models/dear", secret, ""); code != http.StatusForbidden {
		t.Errorf("GET /v1/models/dear with the key: %d, want 403", code)
	}
	if code, _ := call(t, n, http.MethodGet, "/v1/models", "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/models without a key: %d, want 401", code)
	}
	// a request-level fallback to a model the key may not use is skipped, not tried
	code, out := call(t, n, http.MethodPost, "/v1/chat/completions", secret,
		`{"model":"openai/mini","models":["openai/priced"],"messages":[{"role":"user","content":"hi"}]}`)
	if code != http.StatusOK {
		t.Fatalf("fallback list: %d %s", code, out)
	}
}

// A key's budget holds across two gateways under concurrency: spend (what the upstream answers cost) never
// passes it.
func TestKeyBudgetHoldsAcrossGateways(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() stores) {
		// Each answer uses all of max_tokens: 5 + 100 × 2 = 205 millionths of a USD at openai/priced, a little
		// less than the worst case reserved (the prompt counted locally, and max_tokens 100).
		base := upstream(t, 5, 100)
		a, b := newNode(t, open(), base), newNode(t, open(), base)
		_, secret := create(t, a, `{"name":"budget","limit":0.002,"limit_reset":"daily"}`)
		const n = 60
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				h := http.Handler(a)
				if i%2 == 1 {
					h = b
				}
				codes[i], _ = chat(t, h, secret, "openai/priced")
			})
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			if c == http.StatusOK {
				ok++
			} else if c != http.StatusTooManyRequests {
				t.Fatalf("status %d, want 200 or 429", c)
			}
		}
		_, self := call(t, a, http.MethodGet, "/v1/key", secret, "")
		spent := gjson.Get(self, "data.usage").Float()
		if spent > 0.002+1e-12 || ok < 5 || math.Abs(float64(ok)*0.000205-spent) > 1e-9 {
			t.Fatalf("%d requests passed and spent %v USD of a 0.002 budget; want at most 9, at least 5", ok, spent)
		}
		if gjson.Get(self, "data.limit_reset").Str != "daily" || gjson.Get(self, "data.limit").Float() != 0.002 ||
			gjson.Get(self, "data.today.requests").Int() != int64(ok) {
			t.Fatalf("GET /key: %s", self)
		}
		code, out := chat(t, b, secret, "openai/priced")
		if code != http.StatusTooManyRequests || gjson.Get(out, "error.code").Str != "insufficient_quota" {
			t.Fatalf("after the budget: %d %s", code, out)
		}
	})
}

func TestKeyRequestLimitAndExpiry(t *testing.T) {
	n := newNode(t, stores{keys.NewMemoryStore(), ratelimit.NewMemoryStore()}, upstream(t, 1, 1))
	id, secret := create(t, n, `{"name":"slow","requests":"2/1h"}`)
	chat(t, n, secret, "openai/mini")
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"openai/mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	n.ServeHTTP(rec, req)
	if h := rec.Header(); rec.Code != http.StatusOK || h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Fatalf("second request of 2/1h: %d, x-ratelimit-limit-requests %q, remaining %q; want the key's limit in OpenAI's headers",
			rec.Code, h.Get("X-Ratelimit-Limit-Requests"), h.Get("X-Ratelimit-Remaining-Requests"))
	}
	if code, out := chat(t, n, secret, "openai/mini"); code != http.StatusTooManyRequests || gjson.Get(out, "error.code").Str != "rate_limit_exceeded" {
		t.Fatalf("third request of 2/1h: %d %s", code, out)
	}
	call(t, n, http.MethodPatch, "/v1/keys/"+id, adminKey, `{"requests":"5/1h"}`)
	if code, _ := chat(t, n, secret, "openai/mini"); code != http.StatusOK {
		t.Fatalf("after raising the limit: %d", code)
	}
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	call(t, n, http.MethodPatch, "/v1/keys/"+id, adminKey, `{"expires_at":"`+past+`"}`)
	if code, out := chat(t, n, secret, "openai/mini"); code != http.StatusUnauthorized || gjson.Get(out, "error.code").Str != "key_expired" {
		t.Fatalf("an expired key: %d %s", code, out)
	}
}

func TestBadManagementRequests(t *testing.T) {
	n := newNode(t, stores{keys.NewMemoryStore(), ratelimit.NewMemoryStore()}, upstream(t, 1, 1))
	for _, body := range []string{`{}`, `{"name":""}`, `{"name":"x","requests":"lots"}`, `{"name":"x","limit":-1}`,
		`{"name":"x","models":["[bad"]}`, `{"name":"x","colour":"red"}`, `{"name":"x","expires_at":"tomorrow"}`,
		`[1]`, `{"name":` + strings.Repeat("[", 5000), `{"name":"x","limit_reset":"daily"}`} {
		code, out := call(t, n, http.MethodPost, "/v1/keys", adminKey, body)
		if code != http.StatusBadRequest || gjson.Get(out, "error.message").Str == "" {
			t.Errorf("POST %.40s: %d %s, want a 400 saying what is wrong", body, code, out)
		}
	}
	if code, _ := call(t, n, http.MethodPut, "/v1/keys", adminKey, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT /keys: %d", code)
	}
	if code, _ := call(t, n, http.MethodGet, "/v1/keys?limit=0", adminKey, ""); code != http.StatusBadRequest {
		t.Errorf("limit=0: %d", code)
	}
}

func TestListPages(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() stores) {
		n := newNode(t, open(), upstream(t, 1, 1))
		for i := range 5 {
			create(t, n, fmt.Sprintf(`{"name":"k%d"}`, i))
		}
		var names []string
		for offset := "0"; offset != ""; {
			_, out := call(t, n, http.MethodGet, "/v1/keys?limit=2&offset="+offset, adminKey, "")
			for _, k := range gjson.Get(out, "data").Array() {
				names = append(names, k.Get("name").Str)
			}
			offset = gjson.Get(out, "next_offset").Raw
			if offset == "null" {
				offset = ""
			}
		}
		if got := strings.Join(names, ","); got != "k0,k1,k2,k3,k4" {
			t.Fatalf("pages gave %s", got)
		}
	})
}

// The key store and its logic stay free of Caddy, like the engine: Go programs can embed them.
func TestNoCaddyDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/caddyserver/") {
			t.Fatalf("package keys depends on %s", dep)
		}
	}
}

func TestConsoleIsServedWithAStrictPolicy(t *testing.T) {
	n := newNode(t, stores{keys.NewMemoryStore(), ratelimit.NewMemoryStore()}, upstream(t, 1, 1))
	for _, p := range []string{"/v1/console/", "/v1/console/console.js", "/v1/console/console.css"} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		rec := httptest.NewRecorder()
		n.ServeHTTP(rec, req)
		csp := rec.Header().Get("Content-Security-Policy")
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 || !strings.Contains(csp, "default-src 'none'") ||
			!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Fatalf("%s: %d, CSP %q", p, rec.Code, csp)
		}
		for _, outside := range []string{`src="http`, `href="http`, `src="//`, `href="//`, "url(", "@import", "localStorage", "sessionStorage", "document.cookie"} {
			if strings.Contains(rec.Body.String(), outside) {
				t.Errorf("%s has %s: the page must load nothing from elsewhere and keep the admin key in memory", p, outside)
			}
		}
	}
	rec := httptest.NewRecorder()
	n.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/console", nil))
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/v1/console/" {
		t.Fatalf("/v1/console: %d %s", rec.Code, rec.Header().Get("Location"))
	}
}
