package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestClientKeyIdentityLimit checks issue 10's key bypass: a limit keyed on {http.ai_gateway.client_key}
// counts one client key however its Authorization header is spelled, and a second Authorization header is
// refused.
func TestClientKeyIdentityLimit(t *testing.T) {
	requireE2E(t)
	sim := startSimulator(t, "simulator", "")
	gw := startCaddy(t, "gateway", gatewayConfig(simProvider("sim", sim, "")+
		"client_keys key-alpha-e2e key-beta-e2e\n"+
		"rate_limit per_key {\n\tkey {http.ai_gateway.client_key}\n\trequests 2/1m\n}\n"))
	c := newClient(t)
	send := func(auth ...string) *answer {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, gw.url("/v1/chat/completions"),
			strings.NewReader(chatBody("sim/gpt-4o-mini", false)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for _, a := range auth {
			req.Header.Add("Authorization", a)
		}
		resp, err := c.Do(req)
		if err != nil {
			return &answer{err: err}
		}
		defer resp.Body.Close()
		a := &answer{status: resp.StatusCode, header: resp.Header}
		a.body, a.err = io.ReadAll(resp.Body)
		return a
	}

	ok := 0
	for i, auth := range [][]string{
		{"Bearer key-alpha-e2e"}, {"Bearer  key-alpha-e2e"}, {"Bearer     key-alpha-e2e"},
		{"Bearer key-alpha-e2e", "junk1"}, {"Bearer key-alpha-e2e", "junk2"}, {"Bearer   key-alpha-e2e"},
	} {
		a := send(auth...)
		switch {
		case len(auth) > 1:
			if a.status != http.StatusBadRequest {
				t.Errorf("request %d with two Authorization headers: %s; want 400", i, a.describe())
			}
		case a.status == http.StatusOK:
			ok++
		case a.status == http.StatusTooManyRequests:
			if code := gjson.GetBytes(a.body, "error.code").Str; code != "rate_limit_exceeded" {
				t.Errorf("request %d: %s; want code rate_limit_exceeded", i, a.describe())
			}
		default:
			t.Errorf("request %d: %s; want 200 or 429", i, a.describe())
		}
	}
	if ok != 2 {
		t.Errorf("one client key spelled four ways got %d answers past a limit of 2 requests", ok)
	}
	if a := send("Bearer key-beta-e2e"); a.status != http.StatusOK {
		t.Errorf("another client key has its own counter: %s", a.describe())
	}
}
