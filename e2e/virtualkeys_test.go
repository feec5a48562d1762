package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// e2eAdminKey is the admin key of the virtual-key tests, given to Caddy through the environment.
const e2eAdminKey = "e2e-admin-key-6f1c9b2e7d40a8"

// virtualKeys is a virtual_keys block over Redis r (or memory, when r is nil) with the console on.
func virtualKeys(r *redisProc) string {
	store := ""
	if r != nil {
		store = "\tstore redis {\n\t\taddress " + r.addr + "\n\t}\n"
	}
	return "virtual_keys {\n" + store + "\tadmin_keys {env.AIGW_E2E_ADMIN_KEYS}\n\tconsole\n}\n"
}

// manage sends a management API request to gw with key and returns the status and body.
func manage(t *testing.T, c *http.Client, gw *caddyProc, method, path, key, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, gw.url(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, gw.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestVirtualKeysSharedThroughRedis is issue 15's cluster case: two Caddy processes on one Redis. A key
// created through A works on B at once; its budget holds across both under 100 concurrent requests; a revoke
// through B is refused on A at the next request; and no secret reaches a log, the metrics or /config.
func TestVirtualKeysSharedThroughRedis(t *testing.T) {
	requireE2E(t)
	t.Setenv("AIGW_E2E_ADMIN_KEYS", e2eAdminKey)
	redis := startRedis(t)
	sim := startSimulator(t, "simulator", "")
	// Every answer is 10 completion tokens at $4 per million: $0.00004; with max_tokens 12 a request
	// reserves $0.000048. A $0.0002 budget is spent after at most five requests.
	body := simProvider("sim", sim, "completion_tokens=9") + "price sim/* input 0 output 4\n" + virtualKeys(redis)
	a := startCaddy(t, "gateway-a", gatewayConfig(body))
	b := startCaddy(t, "gateway-b", gatewayConfig(body))
	c := newClient(t)
	ctx := context.Background()

	code, out := manage(t, c, a, http.MethodPost, "/v1/keys", e2eAdminKey,
		`{"name":"e2e team","limit":0.0002,"limit_reset":"monthly","models":["sim/*"],"metadata":{"owner":"e2e"}}`)
	id, secret := gjson.Get(out, "data.id").Str, gjson.Get(out, "key").Str
	if code != http.StatusCreated || !strings.HasPrefix(secret, "sk-aigw-") {
		t.Fatalf("create through A: %d %s", code, out)
	}
	if ans := chat(ctx, c, b, budgetBody(false), "Authorization", "Bearer "+secret); !ans.succeeded() {
		t.Fatalf("the key created through A, on B at once: %s", ans.describe())
	}
	// One answered request on A too, so A's key metrics have a series whichever gateway the concurrent
	// requests below happen to be answered by.
	if ans := chat(ctx, c, a, budgetBody(false), "Authorization", "Bearer "+secret); !ans.succeeded() {
		t.Fatalf("the key on A: %s", ans.describe())
	}
	if ans := chat(ctx, c, a, budgetBody(false), "Authorization", "Bearer "+e2eAdminKey); ans.status != http.StatusForbidden {
		t.Errorf("the admin key calling a model: %s; want 403", ans.describe())
	}
	if code, _ := manage(t, c, b, http.MethodGet, "/v1/keys", secret, ""); code != http.StatusForbidden {
		t.Errorf("the client key listing keys: %d; want 403", code)
	}

	const total = 100
	answers := make([]*answer, total)
	var wg sync.WaitGroup
	for i := range total {
		wg.Go(func() {
			answers[i] = chat(ctx, c, []*caddyProc{a, b}[i%2], budgetBody(i%2 == 1), "Authorization", "Bearer "+secret)
		})
	}
	wg.Wait()
	spent, ok := 0.00008, 2 // the first requests, on B and on A
	for i, ans := range answers {
		switch {
		case ans.succeeded():
			ok++
			if ans.events != nil {
				spent += ans.usage.Get("cost").Float()
			} else {
				cost, _ := strconv.ParseFloat(ans.header.Get("X-AI-Gateway-Cost"), 64)
				spent += cost
			}
		case ans.status == http.StatusTooManyRequests:
			if gjson.GetBytes(ans.body, "error.code").Str != "insufficient_quota" {
				t.Errorf("request %d: %s; want 429 insufficient_quota", i, ans.describe())
			}
		default:
			t.Errorf("request %d: %s; want 200 or 429", i, ans.describe())
		}
	}
	if spent > 0.0002+1e-12 || ok < 2 {
		t.Errorf("%d requests over two gateways spent %v USD of the key's 0.0002 budget", ok, spent)
	}
	_, self := manage(t, c, a, http.MethodGet, "/v1/key", secret, "")
	if used := gjson.Get(self, "data.usage").Float(); used > 0.0002+1e-12 || gjson.Get(self, "data.period.requests").Int() != int64(ok) {
		t.Errorf("GET /v1/key after %d requests: %s", ok, self)
	}
	t.Logf("%d of %d concurrent requests over two gateways passed; spent %.6f of 0.0002 USD", ok-2, total, spent)

	if code, out := manage(t, c, b, http.MethodDelete, "/v1/keys/"+id, e2eAdminKey, ""); code != http.StatusOK {
		t.Fatalf("revoke through B: %d %s", code, out)
	}
	if ans := chat(ctx, c, a, budgetBody(false), "Authorization", "Bearer "+secret); ans.status != http.StatusUnauthorized {
		t.Fatalf("the key revoked through B, on A at the next request: %s; want 401", ans.describe())
	}

	// The audit lines name the admin's identity and the key, never a secret; nothing anywhere shows one.
	for _, gw := range []*caddyProc{a, b} {
		for _, e := range gw.logEntries("virtual key ") {
			if e.Get("key_id").Str != id || !strings.HasPrefix(e.Get("admin").Str, "admin-") {
				t.Errorf("%s audit line %s", gw.name, e.Raw)
			}
		}
	}
	if n := len(a.logEntries("virtual key create")) + len(b.logEntries("virtual key delete")); n != 2 {
		t.Errorf("%d audit lines for create (A) and delete (B), want 2", n)
	}
	metrics := fetch(t, c, a.adminURL("/metrics"))
	if !strings.Contains(metrics, `caddy_ai_gateway_key_requests_total{key_id="`+id+`",key_name="e2e team"}`) {
		t.Errorf("A's metrics have no key_requests_total series for the key:\n%s", grep(metrics, "key_"))
	}
	random := secret[strings.Index(secret, "_")+1:]
	for name, text := range map[string]string{
		"A's log": read(t, a.logPath), "B's log": read(t, b.logPath), "A's metrics": metrics,
		"A's /config": fetch(t, c, a.adminURL("/config/")), "B's /config": fetch(t, c, b.adminURL("/config/")),
		"the key list": func() string { _, s := manage(t, c, a, http.MethodGet, "/v1/keys", e2eAdminKey, ""); return s }(),
	} {
		if strings.Contains(text, random) || strings.Contains(text, e2eAdminKey) {
			t.Errorf("%s shows a secret", name)
		}
	}
}

func fetch(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grep(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestVirtualKeysKeptAcrossReload: the memory store keeps keys and their usage across a config reload.
func TestVirtualKeysKeptAcrossReload(t *testing.T) {
	requireE2E(t)
	t.Setenv("AIGW_E2E_ADMIN_KEYS", e2eAdminKey)
	sim := startSimulator(t, "simulator", "")
	body := simProvider("sim", sim, "") + virtualKeys(nil)
	gw := startCaddy(t, "gateway", gatewayConfig(body))
	c := newClient(t)
	code, out := manage(t, c, gw, http.MethodPost, "/v1/keys", e2eAdminKey, `{"name":"kept","requests":"3/1h"}`)
	secret := gjson.Get(out, "key").Str
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, out)
	}
	for range 2 {
		if a := chat(context.Background(), c, gw, chatBody("sim/gpt-4o-mini", false), "Authorization", "Bearer "+secret); !a.succeeded() {
			t.Fatalf("before the reload: %s", a.describe())
		}
	}
	gw.reload(gatewayConfig(body + "alias reloaded sim/gpt-4o-mini\n"))
	c.CloseIdleConnections()
	if a := chat(context.Background(), c, gw, chatBody("reloaded", false), "Authorization", "Bearer "+secret); !a.succeeded() {
		t.Fatalf("the key after a reload: %s", a.describe())
	}
	if a := chat(context.Background(), c, gw, chatBody("reloaded", false), "Authorization", "Bearer "+secret); a.status != http.StatusTooManyRequests {
		t.Fatalf("the fourth request of 3/1h after a reload: %s; want 429 (counters kept)", a.describe())
	}
	if _, self := manage(t, c, gw, http.MethodGet, "/v1/key", secret, ""); gjson.Get(self, "data.today.requests").Int() != 3 {
		t.Fatalf("usage after a reload: %s", self)
	}
}
