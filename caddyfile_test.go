package aigateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestCaddyfileAdapt(t *testing.T) {
	caddytest.AssertAdapt(t, `
	:8080 {
		ai_gateway /v1/* {
			provider openai {
				api_key {env.OPENAI_API_KEY}
				header OpenAI-Beta assistants=v2
				models gpt-4o-mini gpt-4o
				timeout 60s
				dial_timeout 5s
				response_header_timeout 30s
			}
			provider work {
				type azure
				resource my-resource
				deployment gpt-4o prod-gpt4o
				api_version 2024-10-21
				api_key {env.AZURE_KEY}
			}
			alias fast openai/gpt-4o-mini
			default_model openai/gpt-4o-mini
			max_request_body 4MB
			max_response_body 8MiB
			max_event_size 512KiB
			max_output_tokens 16384
			client_keys {env.GATEWAY_KEYS}
		}
	}`, "caddyfile", `{
	"apps": {
		"http": {
			"servers": {
				"srv0": {
					"listen": [
						":8080"
					],
					"routes": [
						{
							"match": [
								{
									"path": [
										"/v1/*"
									]
								}
							],
							"handle": [
								{
									"aliases": {
										"fast": "openai/gpt-4o-mini"
									},
									"client_keys": [
										"{env.GATEWAY_KEYS}"
									],
									"default_model": "openai/gpt-4o-mini",
									"handler": "ai_gateway",
									"max_event_size": 524288,
									"max_output_tokens": 16384,
									"max_request_body": 4000000,
									"max_response_body": 8388608,
									"providers": [
										{
											"api_keys": [
												"{env.OPENAI_API_KEY}"
											],
											"dial_timeout": 5000000000,
											"dialect": {
												"preset": "openai",
												"type": "openai"
											},
											"headers": {
												"Openai-Beta": [
													"assistants=v2"
												]
											},
											"models": [
												"gpt-4o-mini",
												"gpt-4o"
											],
											"name": "openai",
											"response_header_timeout": 30000000000,
											"timeout": 60000000000
										},
										{
											"api_keys": [
												"{env.AZURE_KEY}"
											],
											"dialect": {
												"api_version": "2024-10-21",
												"deployments": {
													"gpt-4o": "prod-gpt4o"
												},
												"resource": "my-resource",
												"type": "azure"
											},
											"name": "work"
										}
									]
								}
							]
						}
					]
				}
			}
		}
	}
}`)
}

func TestCaddyfileErrors(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		{"ai_gateway {\nprovider\n}", "provider needs a name"},
		{"ai_gateway {\nprovider a {\nbogus 1\n}\n}", "unrecognized provider subdirective 'bogus'"},
		{"ai_gateway {\nprovider a\nprovider a\n}", "defined twice"},
		{"ai_gateway {\nalias fast\n}", "wrong argument count"},
		{"ai_gateway {\nalias a openai/x\nalias a openai/y\n}", "alias 'a' is defined twice"},
		{"ai_gateway {\nmax_request_body lots\n}", "invalid max_request_body"},
		{"ai_gateway {\nmax_response_body lots\n}", "invalid max_response_body"},
		{"ai_gateway {\nmax_event_size 0\n}", "invalid max_event_size"},
		{"ai_gateway {\nmax_output_tokens -1\n}", "invalid max_output_tokens"},
		{"ai_gateway {\nprovider a {\ntimeout soon\n}\n}", "invalid timeout"},
		{"ai_gateway {\nprovider a {\ntype sagemaker\n}\n}", "provider 'a': unknown type 'sagemaker' (known: anthropic, azure, bedrock, cohere, deepseek"},
		{"ai_gateway {\nnope\n}", "unrecognized subdirective 'nope'"},
		{"ai_gateway extra", "wrong argument count"},
	} {
		err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.input, err, c.want)
		}
	}
}

func provision(t *testing.T, cfg string) (*Handler, error) {
	t.Helper()
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(cfg)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		return h, err
	}
	return h, h.Validate()
}

func TestProvisionErrors(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		{"ai_gateway {\nprovider local\n}", "has no base URL"},
		{"ai_gateway {\nprovider work {\ntype azure\n}\n}", "provider 'work' has no base URL"},
		{"ai_gateway {\nprovider openai\nalias fast groq/llama\n}", "alias 'fast' points to 'groq/llama'"},
		{"ai_gateway {\nprovider openai {\nmodels gpt-4o\n}\nalias fast openai/gpt-5\n}", "alias 'fast'"},
		{"ai_gateway {\nprovider openai\ndefault_model nope/x\n}", "default model"},
		{"ai_gateway {\nprovider local {\nbase_url ftp://x\n}\n}", "not an http(s) URL"},
		{"ai_gateway", "no provider configured"},
		{"ai_gateway {\nprovider openai\nclient_keys {env.AIGW_TEST_UNSET_VAR}\n}", "client_keys resolved to no key"},
	} {
		if _, err := provision(t, c.input); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.input, err, c.want)
		}
	}
}

// TestProvisionResolvesSecretsAndPresets checks that the placeholders of the provider's api_key, base_url and
// header values and of client_keys are resolved once at provision, that what reaches the upstream is the
// resolved secret, and that the JSON config keeps only the placeholder.
func TestProvisionResolvesSecretsAndPresets(t *testing.T) {
	type seen struct{ path, auth, org string }
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("OpenAI-Organization")}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"llama","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)
	}))
	defer up.Close()
	t.Setenv("AIGW_TEST_KEY", "sk-from-env")
	t.Setenv("AIGW_TEST_URL", up.URL+"/openai/v1")
	t.Setenv("AIGW_TEST_ORG", "org-from-env")
	t.Setenv("AIGW_TEST_CLIENT_KEY", "client-from-env")
	h, err := provision(t, `ai_gateway {
		client_keys {env.AIGW_TEST_CLIENT_KEY}
		provider groq {
			base_url {env.AIGW_TEST_URL}
			api_key {env.AIGW_TEST_KEY}
			header OpenAI-Organization {env.AIGW_TEST_ORG}
		}
		provider ollama
		provider local {
			type ollama_native
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	raw, _ := json.Marshal(h)
	for _, secret := range []string{"sk-from-env", "org-from-env", "client-from-env"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("a resolved secret leaked into the JSON config: %s", raw)
		}
	}
	if !strings.Contains(string(raw), "{env.AIGW_TEST_KEY}") {
		t.Fatalf("the placeholder should stay in the config: %s", raw)
	}

	chat := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"groq/llama","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req = caddyhttp.PrepareRequest(req, caddy.NewReplacer(), nil, &caddyhttp.Server{})
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := chat("{env.AIGW_TEST_CLIENT_KEY}"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("the placeholder text itself was accepted as a client key: %d %s", rec.Code, rec.Body)
	}
	if rec := chat("client-from-env"); rec.Code != http.StatusOK {
		t.Fatalf("the client key from the environment was refused: %d %s", rec.Code, rec.Body)
	}
	select {
	case s := <-got:
		if s.path != "/openai/v1/chat/completions" || s.auth != "Bearer sk-from-env" || s.org != "org-from-env" {
			t.Fatalf("the upstream saw path %q, Authorization %q, OpenAI-Organization %q; want the resolved base URL, key and header",
				s.path, s.auth, s.org)
		}
	default:
		t.Fatal("the upstream at the resolved base_url was never called")
	}
}

func TestExamplesAdapt(t *testing.T) {
	files, _ := os.ReadDir("examples")
	n := 0
	for _, dir := range files {
		path := "examples/" + dir.Name() + "/Caddyfile"
		src, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		n++
		adapter := caddyconfig.GetAdapter("caddyfile")
		out, _, err := adapter.Adapt(src, map[string]any{"filename": path})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if !strings.Contains(string(out), `"handler":"ai_gateway"`) {
			t.Errorf("%s: adapted config has no ai_gateway handler", path)
		}
	}
	if n == 0 {
		t.Fatal("no example Caddyfiles found")
	}
}

func TestCaddyfileRoutingLimitsAndPrices(t *testing.T) {
	h, err := provision(t, `ai_gateway {
		provider openai {
			api_key a b
			first_token_timeout 5s
		}
		provider groq
		route smart {
			target openai/gpt-4o-mini weight 3
			target groq/llama-3.1-8b weight 1
			fallback openai/gpt-4o
			policy least_busy
		}
		retry {
			statuses 429 503
			max_attempts 4
			base_delay 100ms
			deadline 30s
		}
		cooldown {
			consecutive_failures 5
			error_rate 25%
			duration 3s
		}
		price vllm/* input 0.1 output 0.2
		report_cost off
		rate_limit per_key {
			key {http.request.header.Authorization}
			requests 60/1m
			tokens 200000/1m
			budget 25usd/1mo
			match model openai/* smart
		}
		rate_limit_store memory
		on_store_error deny
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Routes) != 1 || len(h.Routes[0].Tiers) != 2 || len(h.Routes[0].Tiers[0]) != 2 || h.Routes[0].Tiers[0][0].Weight != 3 ||
		h.Routes[0].Policy != "least_busy" {
		t.Errorf("route: %+v", h.Routes[0])
	}
	if h.Retry.MaxAttempts != 4 || len(h.Retry.Statuses) != 2 || h.Cooldown.ErrorRate != 0.25 || h.Cooldown.ConsecutiveFailures != 5 {
		t.Errorf("retry/cooldown: %+v %+v", h.Retry, h.Cooldown)
	}
	if *h.ReportCost || len(h.Prices) != 1 || h.Prices[0].Output != 0.2 {
		t.Errorf("prices: %+v", h.Prices)
	}
	rl := h.RateLimits[0]
	if rl.Requests.Limit != 60 || rl.Tokens.Limit != 200000 || rl.Budget.USD != 25 || len(rl.MatchModels) != 2 ||
		h.RateLimitStore.OnStoreError != "deny" {
		t.Errorf("rate limit: %+v %+v", rl, h.RateLimitStore)
	}
	raw, _ := json.Marshal(h)
	for _, want := range []string{`"requests":"60/1m"`, `"budget":"25usd/1mo"`, `"first_token_timeout":5000000000`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("JSON lacks %s: %s", want, raw)
		}
	}
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
}

func TestCaddyfileRoutingErrors(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		{"ai_gateway {\nroute smart {\nfallback openai/x\n}\n}", "at least one target"},
		{"ai_gateway {\nroute smart {\ntarget openai/x weight zero\n}\n}", "invalid weight"},
		{"ai_gateway {\nroute smart\n}", "has no target"},
		{"ai_gateway {\nrate_limit x {\nrequests lots\n}\n}", "rate_limit x: requests"},
		{"ai_gateway {\nrate_limit x {\nkey {remote_host}\n}\n}", "sets no limit"},
		{"ai_gateway {\nrate_limit_store disk\n}", "use memory or redis"},
		{"ai_gateway {\nprice openai/* input 1\n}", "price <model-glob>"},
		{"ai_gateway {\ncooldown {\nerror_rate 150%\n}\n}", "invalid error_rate"},
		{"ai_gateway {\nretry {\nstatuses 42\n}\n}", "invalid status"},
		{"ai_gateway {\nreport_cost maybe\n}", "use on or off"},
	} {
		err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to mention %q", c.input, err, c.want)
		}
	}
}

// adaptErr unmarshals a Caddyfile and returns the error.
func adaptErr(input string) error {
	return new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
}

func TestCaddyfileRepeatedOptions(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		// handler
		{"ai_gateway {\ndefault_model a/x\ndefault_model a/y\n}", "default_model already specified at Testfile:2: give it once, at Testfile:3"},
		{"ai_gateway {\nmax_request_body 1MB\nmax_request_body 2MB\n}", "max_request_body already specified"},
		{"ai_gateway {\nmax_output_tokens 10\nmax_output_tokens 20\n}", "max_output_tokens already specified"},
		{"ai_gateway {\nreport_cost on\nreport_cost off\n}", "report_cost already specified"},
		{"ai_gateway {\non_store_error deny\non_store_error allow\n}", "on_store_error already specified"},
		{"ai_gateway {\nretry\nretry\n}", "retry already specified"},
		{"ai_gateway {\ncooldown\ncooldown\n}", "cooldown already specified"},
		{"ai_gateway {\nrate_limit_store memory\nrate_limit_store memory\n}", "rate_limit_store already specified"},
		// a fail-closed setting must not become fail-open, whichever comes first
		{"ai_gateway {\non_store_error allow\nrate_limit_store memory {\non_store_error deny\n}\n}", "on_store_error already specified at Testfile:2: give it once, at Testfile:4"},
		{"ai_gateway {\nrate_limit_store memory {\non_store_error deny\n}\non_store_error allow\n}", "on_store_error already specified at Testfile:3: give it once, at Testfile:5"},
		// provider
		{"ai_gateway {\nprovider a {\nbase_url http://x\nbase_url http://y\n}\n}", "base_url already specified"},
		{"ai_gateway {\nprovider a {\ntype openai\ntype azure\n}\n}", "type already specified"},
		{"ai_gateway {\nprovider a {\ntimeout 1s\ntimeout 2s\n}\n}", "timeout already specified at Testfile:3: give it once, at Testfile:4"},
		{"ai_gateway {\nprovider a {\nfirst_token_timeout 1s\nfirst_token_timeout 2s\n}\n}", "first_token_timeout already specified"},
		{"ai_gateway {\nprovider a {\ntype azure\napi_version 1\napi_version 2\n}\n}", "api_version already specified"},
		{"ai_gateway {\nprovider a {\ntype azure\ndeployment gpt-4o one\ndeployment gpt-4o two\n}\n}", "deployment for 'gpt-4o' already specified"},
		{"ai_gateway {\nprovider a {\ntype anthropic\ndefault_max_tokens 1\ndefault_max_tokens 2\n}\n}", "default_max_tokens already specified"},
		{"ai_gateway {\nprovider a {\nforward_metadata\nforward_metadata\n}\n}", "forward_metadata already specified"},
		{"ai_gateway {\nprovider a {\npolicy round_robin\npolicy weighted\n}\n}", "policy already specified"},
		{"ai_gateway {\nprovider a {\ntype ollama_native\nkeep_alive 1m\nkeep_alive 2m\n}\n}", "keep_alive already specified"},
		// route, retry, cooldown, rate_limit, rate_limit_store, price
		{"ai_gateway {\nroute r {\ntarget a/x\npolicy weighted\npolicy round_robin\n}\n}", "policy already specified"},
		{"ai_gateway {\nretry {\ndeadline 1s\ndeadline 2s\n}\n}", "deadline already specified"},
		{"ai_gateway {\nretry {\nmax_attempts 2\nmax_attempts 3\n}\n}", "max_attempts already specified"},
		{"ai_gateway {\ncooldown {\nwindow 1s\nwindow 2s\n}\n}", "window already specified"},
		{"ai_gateway {\ncooldown {\nerror_rate 10%\nerror_rate 20%\n}\n}", "error_rate already specified"},
		{"ai_gateway {\nrate_limit x {\nrequests 1/1m\nrequests 2/1m\n}\n}", "requests already specified"},
		{"ai_gateway {\nrate_limit x {\nkey a\nkey b\nrequests 1/1m\n}\n}", "key already specified"},
		{"ai_gateway {\nrate_limit_store redis {\naddress a:1\naddress b:1\n}\n}", "address already specified"},
		{"ai_gateway {\nrate_limit_store redis {\ndb 1\ndb 2\n}\n}", "db already specified"},
		{"ai_gateway {\nprice a/* input 1 output 2 input 3\n}", "price input already specified"},
		{"ai_gateway {\nprice a/* input 1 output 2\nprice a/* input 3 output 4\n}", "price for 'a/*' already specified"},
	} {
		if err := adaptErr(c.input); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to mention %q", c.input, err, c.want)
		}
	}
}

func TestCaddyfileRepeatableOptions(t *testing.T) {
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`ai_gateway {
		provider a {
			type azure
			api_key k1
			api_key k2
			header X-A 1
			header X-A 2
			models m1
			models m2
			deployment m1 d1
			deployment m2 d2
			forward_headers OpenAI-Beta
			forward_headers X-B
		}
		client_keys c1
		client_keys c2
		retry {
			statuses 429
			statuses 503
		}
		rate_limit x {
			requests 1/1m
			match model a/*
			match model b/*
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	p := h.Providers[0]
	if len(p.APIKeys) != 2 || len(p.Headers["X-A"]) != 2 || len(p.Models) != 2 ||
		!strings.Contains(string(p.DialectRaw), `"deployments":{"m1":"d1","m2":"d2"}`) ||
		len(p.ForwardHeaders) != 2 || len(h.ClientKeys) != 2 || len(h.Retry.Statuses) != 2 || len(h.RateLimits[0].MatchModels) != 2 {
		t.Errorf("list options accumulate: %+v %+v", p, h)
	}
}

func TestCaddyfileOutOfRangeValues(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		{"ai_gateway {\nprovider a {\ntimeout -5s\n}\n}", "timeout '-5s': must be positive"},
		{"ai_gateway {\nprovider a {\ntimeout 0s\n}\n}", "timeout '0s': must be positive"},
		{"ai_gateway {\nprovider a {\nresponse_header_timeout -1s\n}\n}", "response_header_timeout '-1s': must be positive"},
		{"ai_gateway {\nprovider a {\ndial_timeout -1s\n}\n}", "dial_timeout '-1s': must be positive"},
		{"ai_gateway {\nprovider a {\nfirst_token_timeout -1s\n}\n}", "first_token_timeout '-1s': must be positive"},
		{"ai_gateway {\nprovider a {\ntype anthropic\ndefault_max_tokens -1\n}\n}", "default_max_tokens '-1': must be positive"},
		{"ai_gateway {\nprovider a {\ntype ollama_native\nkeep_alive -5m\n}\n}", "keep_alive '-5m': must not be negative"},
		{"ai_gateway {\nprovider a {\ntype ollama_native\nkeep_alive soon\n}\n}", "invalid keep_alive 'soon'"},
		{"ai_gateway {\nprovider a {\npolicy fastest\n}\n}", "unknown policy 'fastest'"},
		{"ai_gateway {\nroute r {\ntarget a/x\npolicy fastest\n}\n}", "unknown policy 'fastest'"},
		{"ai_gateway {\nretry {\ndeadline -1s\n}\n}", "deadline '-1s': must be positive"},
		{"ai_gateway {\nretry {\nbase_delay -1s\n}\n}", "base_delay '-1s': must be positive"},
		{"ai_gateway {\nretry {\nmax_delay -1s\n}\n}", "max_delay '-1s': must be positive"},
		{"ai_gateway {\nretry {\nmax_retry_after -1s\n}\n}", "max_retry_after '-1s': must be positive"},
		{"ai_gateway {\nretry {\nmax_attempts -1\n}\n}", "max_attempts '-1': must be positive"},
		{"ai_gateway {\nretry {\nmax_attempts 0\n}\n}", "max_attempts '0': must be positive"},
		{"ai_gateway {\ncooldown {\nwindow -1s\n}\n}", "window '-1s': must be positive"},
		{"ai_gateway {\ncooldown {\nduration -1s\n}\n}", "duration '-1s': must be positive"},
		{"ai_gateway {\ncooldown {\nconsecutive_failures -1\n}\n}", "consecutive_failures '-1': must be positive"},
		{"ai_gateway {\ncooldown {\nmin_requests -1\n}\n}", "min_requests '-1': must be positive"},
		{"ai_gateway {\ncooldown {\nerror_rate NaN%\n}\n}", "invalid error_rate 'NaN%'"},
		{"ai_gateway {\nrate_limit_store redis {\ndb -1\n}\n}", "db '-1': must not be negative"},
		{"ai_gateway {\nrate_limit_store memory {\naddress a:1\n}\n}", "address is only for rate_limit_store redis"},
		{"ai_gateway {\nmax_request_body 18EB\n}", "invalid max_request_body '18EB'"},
		{"ai_gateway {\nmax_request_body 0\n}", "invalid max_request_body '0'"},
		{"ai_gateway {\nprice * input NaN output 1\n}", "price input 'NaN': must be a finite number"},
		{"ai_gateway {\nprice * input 1 output +Inf\n}", "price output '+Inf': must be a finite number"},
		{"ai_gateway {\nprice * input -1 output 1\n}", "price input '-1': must not be negative"},
		{"ai_gateway {\nprice * input 1 output 1 cached_input 1e400\n}", "price cached_input '1e400'"},
	} {
		if err := adaptErr(c.input); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to mention %q", c.input, err, c.want)
		}
	}
}

// TestCaddyfileErrorsAtAdapt runs the adapter as `caddy adapt` and `caddy validate` do: the error carries the
// file and line of the offending option.
func TestCaddyfileErrorsAtAdapt(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"provider a {\n\t\t\ttimeout -5s\n\t\t}", "invalid timeout '-5s': must be positive (omit it for the default), at Caddyfile:4"},
		{"provider a {\n\t\t\tbase_url http://a\n\t\t\tbase_url http://b\n\t\t}",
			"base_url already specified at Caddyfile:4: give it once, at Caddyfile:5"},
		{"retry {\n\t\t\tdeadline -1s\n\t\t}", "invalid deadline '-1s': must be positive"},
		{"price * input NaN output 1", "price input 'NaN': must be a finite number"},
		{"on_store_error allow\n\t\trate_limit_store memory {\n\t\t\ton_store_error deny\n\t\t}",
			"on_store_error already specified at Caddyfile:3: give it once, at Caddyfile:5"},
	} {
		src := ":8080 {\n\tai_gateway {\n\t\t" + c.body + "\n\t}\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "Caddyfile:") {
			t.Errorf("%q: error %v, want it to mention %q and the line", c.body, err, c.want)
		}
	}
}

// provisionJSON provisions a handler from its JSON config, as Caddy does for a JSON config file.
func provisionJSON(t *testing.T, cfg string) error {
	t.Helper()
	h := new(Handler)
	if err := json.Unmarshal([]byte(cfg), h); err != nil {
		t.Fatalf("%s: %v", cfg, err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := h.Provision(ctx)
	if err == nil {
		err = h.Validate()
	}
	_ = h.Cleanup()
	return err
}

func TestProvisionRejectsOutOfRangeJSON(t *testing.T) {
	const p = `"providers":[{"name":"openai"`
	for _, c := range []struct{ cfg, want string }{
		{`{` + p + `,"timeout":-5000000000}]}`, "provider 'openai': timeout must not be negative (-5s)"},
		{`{` + p + `,"dial_timeout":-1}]}`, "provider 'openai': dial_timeout must not be negative"},
		{`{` + p + `,"response_header_timeout":-1000000000}]}`, "provider 'openai': response_header_timeout must not be negative"},
		{`{` + p + `,"first_token_timeout":-1}]}`, "provider 'openai': first_token_timeout must not be negative"},
		{`{` + p + `,"dialect":{"type":"anthropic","default_max_tokens":-1}}]}`, "http.handlers.ai_gateway.dialects.anthropic: invalid configuration: default_max_tokens -1: must be positive"},
		{`{` + p + `,"policy":"fastest"}]}`, "unknown policy 'fastest'"},
		{`{` + p + `,"dialect":{"type":"openai","keep_alive":"5m"}}]}`, `http.handlers.ai_gateway.dialects.openai: json: unknown field "keep_alive"`},
		{`{` + p + `,"dialect":{"type":"ollama_native","keep_alive":"-5m"}}]}`, "provision http.handlers.ai_gateway.dialects.ollama_native: keep_alive '-5m': must not be negative"},
		{`{` + p + `,"dialect":{"type":"sagemaker"}}]}`, "provider 'openai': loading its dialect: loading module 'sagemaker': unknown module: http.handlers.ai_gateway.dialects.sagemaker"},
		{`{` + p + `,"dialect":{"type":"openai","preset":"nope"}}]}`, "unknown openai preset 'nope' (known: deepseek, fireworks"},
		{`{` + p + `,"forward_headers":["Authorization"]}]}`, "forward_headers: Authorization is never forwarded"},
		{`{` + p + `}],"max_request_body":-1}`, "max_request_body must not be negative"},
		{`{` + p + `}],"max_output_tokens":-1}`, "max_output_tokens must not be negative"},
		{`{` + p + `}],"retry":{"deadline":-1000000000}}`, "retry: deadline must not be negative (-1s)"},
		{`{` + p + `}],"retry":{"max_attempts":-1}}`, "retry: max_attempts must not be negative"},
		{`{` + p + `}],"retry":{"base_delay":-1}}`, "retry: base_delay must not be negative"},
		{`{` + p + `}],"retry":{"max_delay":-1}}`, "retry: max_delay must not be negative"},
		{`{` + p + `}],"retry":{"max_retry_after":-1}}`, "retry: max_retry_after must not be negative"},
		{`{` + p + `}],"retry":{"statuses":[42]}}`, "retry: status 42 is not an HTTP status"},
		{`{` + p + `}],"cooldown":{"window":-1}}`, "cooldown: window must not be negative"},
		{`{` + p + `}],"cooldown":{"duration":-1}}`, "cooldown: duration must not be negative"},
		{`{` + p + `}],"cooldown":{"consecutive_failures":-1}}`, "cooldown: consecutive_failures must not be negative"},
		{`{` + p + `}],"cooldown":{"min_requests":-1}}`, "cooldown: min_requests must not be negative"},
		{`{` + p + `}],"cooldown":{"error_rate":1.5}}`, "cooldown: error_rate must be between 0 and 1"},
		{`{` + p + `}],"prices":[{"model":"*","input":-1,"output":1}]}`, "price '*': input must not be negative"},
		{`{` + p + `}],"prices":[{"model":"*","input":1,"output":1,"cached_input":-1}]}`, "price '*': cached_input must not be negative"},
		{`{` + p + `}],"rate_limit_store":{"type":"redis","db":-1}}`, "rate_limit_store: db must not be negative"},
		{`{` + p + `}],"rate_limit_store":{"on_store_error":"maybe"}}`, "on_store_error 'maybe': use allow or deny"},
	} {
		if err := provisionJSON(t, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.cfg, err, c.want)
		}
	}
}

func TestCaddyfileProviderKeepAlivePolicyForwardHeaders(t *testing.T) {
	caddytest.AssertAdapt(t, `
	:8080 {
		ai_gateway {
			provider local {
				type ollama_native
				keep_alive 10m
			}
			provider openai {
				api_key {env.KEY_A} {env.KEY_B}
				policy round_robin
				forward_headers OpenAI-Beta X-Team
			}
		}
	}`, "caddyfile", `{
	"apps": {
		"http": {
			"servers": {
				"srv0": {
					"listen": [
						":8080"
					],
					"routes": [
						{
							"handle": [
								{
									"handler": "ai_gateway",
									"providers": [
										{
											"dialect": {
												"keep_alive": "10m",
												"type": "ollama_native"
											},
											"name": "local"
										},
										{
											"api_keys": [
												"{env.KEY_A}",
												"{env.KEY_B}"
											],
											"dialect": {
												"preset": "openai",
												"type": "openai"
											},
											"forward_headers": [
												"OpenAI-Beta",
												"X-Team"
											],
											"name": "openai",
											"policy": "round_robin"
										}
									]
								}
							]
						}
					]
				}
			}
		}
	}
}`)
}

// serveGateway sends one chat completion through a provisioned handler.
func serveGateway(t *testing.T, h *Handler, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)),
		caddy.NewReplacer(), nil, &caddyhttp.Server{})
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestProviderKeepAlivePolicyForwardHeadersReachUpstream(t *testing.T) {
	type seen struct {
		body   string
		header http.Header
	}
	got := make(chan seen, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{string(b), r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/api/chat") {
			io.WriteString(w, `{"model":"llama3","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"Hi"},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":1}`)
			return
		}
		io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer up.Close()
	h, err := provision(t, `ai_gateway {
		provider local {
			type ollama_native
			base_url `+up.URL+`
			keep_alive 10m
		}
		provider forever {
			type ollama_native
			base_url `+up.URL+`
			keep_alive forever
		}
		provider openai {
			base_url `+up.URL+`/v1
			api_key k1 k2
			policy round_robin
			forward_headers openai-beta
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	if rec := serveGateway(t, h, `{"model":"local/llama3","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if s := <-got; !strings.Contains(s.body, `"keep_alive":"10m0s"`) {
		t.Errorf("keep_alive 10m not sent to Ollama: %s", s.body)
	}
	serveGateway(t, h, `{"model":"forever/llama3","messages":[{"role":"user","content":"hi"}]}`)
	if s := <-got; !strings.Contains(s.body, `"keep_alive":"-1m"`) {
		t.Errorf("keep_alive forever should send a negative duration: %s", s.body)
	}
	var keys []string
	for range 4 {
		serveGateway(t, h, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
			"OpenAI-Beta", "assistants=v2", "Anthropic-Beta", "x")
		s := <-got
		keys = append(keys, s.header.Get("Authorization"))
		if s.header.Get("OpenAI-Beta") != "assistants=v2" || s.header.Get("Anthropic-Beta") != "" {
			t.Errorf("forward_headers openai-beta: upstream headers %v", s.header)
		}
	}
	if keys[0] == keys[1] || keys[0] != keys[2] || keys[1] != keys[3] {
		t.Errorf("policy round_robin should alternate the keys: %v", keys)
	}
}

// TestJSONProviderWithoutDialect: a JSON provider without "dialect" gets the one its name picks, as in the
// Caddyfile, and requests reach that API with its credential scheme.
func TestJSONProviderWithoutDialect(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}`)
	}))
	defer up.Close()
	h := new(Handler)
	if err := json.Unmarshal([]byte(`{"providers":[{"name":"anthropic","base_url":"`+up.URL+`","api_keys":["sk-ant"]}]}`), h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	rec := serveGateway(t, h, `{"model":"anthropic/claude","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if hdr := <-got; hdr.Get("X-Api-Key") != "sk-ant" || hdr.Get("Anthropic-Version") == "" {
		t.Fatalf("the upstream got %v: not Anthropic's credential scheme", hdr)
	}
}
