package aigateway

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
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
											"api_version": "2024-10-21",
											"deployments": {
												"gpt-4o": "prod-gpt4o"
											},
											"name": "work",
											"resource": "my-resource",
											"type": "azure"
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
		{"ai_gateway {\nprovider a {\ntype bedrock\n}\n}", "unknown type 'bedrock'"},
		{"ai_gateway {\nprovider local\n}", "has no base URL"},
		{"ai_gateway {\nprovider work {\ntype azure\n}\n}", "azure needs resource"},
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

func TestProvisionResolvesSecretsAndPresets(t *testing.T) {
	t.Setenv("AIGW_TEST_KEY", "sk-from-env")
	h, err := provision(t, `ai_gateway {
		provider groq {
			api_key {env.AIGW_TEST_KEY}
		}
		provider ollama
		provider local {
			type ollama_native
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(h)
	if strings.Contains(string(raw), "sk-from-env") {
		t.Fatalf("a resolved secret leaked into the JSON config: %s", raw)
	}
	if !strings.Contains(string(raw), "{env.AIGW_TEST_KEY}") {
		t.Fatalf("the placeholder should stay in the config: %s", raw)
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
