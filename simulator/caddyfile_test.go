package simulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/tidwall/gjson"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`ai_simulator {
		latency 50ms
		ttft 200ms
		tokens_per_second 40.5
		completion_tokens 100
		chunk_tokens 4
		report_usage off
		fail_rate 0.25
		fail_status 429
		retry_after 2s
		cut_after 10
		hang
		require_key sk-test
		models gpt-4o-mini claude-sonnet-4-5
		agent
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	c := h.Config
	if time.Duration(c.Latency) != 50*time.Millisecond || time.Duration(c.TTFT) != 200*time.Millisecond ||
		c.TokensPerSecond != 40.5 || c.CompletionTokens != 100 || c.ChunkTokens != 4 ||
		c.ReportUsage == nil || *c.ReportUsage || c.FailRate != 0.25 || c.FailStatus != 429 ||
		time.Duration(c.RetryAfter) != 2*time.Second || c.CutAfter != 10 || !c.Hang || !c.Agent || c.RequireKey != "sk-test" ||
		strings.Join(c.Models, ",") != "gpt-4o-mini,claude-sonnet-4-5" {
		t.Errorf("parsed %+v", c)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	tests := []struct{ input, want string }{
		{`ai_simulator extra`, "wrong argument count"},
		{"ai_simulator {\n latency\n}", "wrong argument count"},
		{"ai_simulator {\n latency soon\n}", "invalid latency duration 'soon'"},
		{"ai_simulator {\n fail_rate 2\n}", "fail_rate must be between 0 and 1"},
		{"ai_simulator {\n fail_status 200\n}", "fail_status must be an HTTP error status"},
		{"ai_simulator {\n report_usage maybe\n}", "want on or off"},
		{"ai_simulator {\n completion_tokens many\n}", "invalid completion_tokens 'many'"},
		{"ai_simulator {\n hang\n hang\n}", "hang specified more than once"},
		{"ai_simulator {\n agent on\n}", "wrong argument count"},
		{"ai_simulator {\n explode\n}", "unrecognized subdirective 'explode'"},
		{"ai_simulator {\n models\n}", "wrong argument count"},
	}
	for _, tt := range tests {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.input, err, tt.want)
		}
	}
}

func TestCaddyModule(t *testing.T) {
	h := &Handler{Config: Config{CompletionTokens: 2}}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatBody))
	if err := h.ServeHTTP(rec, req, nil); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"content":"the quick"`) {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
	if (&Handler{Config: Config{FailRate: -1}}).Validate() == nil {
		t.Error("negative fail_rate accepted")
	}
}

func TestCaddyfileAdapts(t *testing.T) {
	input := ":8081 {\n\trespond /health 200\n\tai_simulator {\n\t\tlatency 5ms\n\t\treport_usage off\n\t}\n}\n"
	adapter := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}
	out, warnings, err := adapter.Adapt([]byte(input), nil)
	if err != nil {
		t.Fatalf("adapting: %v (warnings %v)", err, warnings)
	}
	routes := gjson.GetBytes(out, "apps.http.servers.srv0.routes")
	want := `{"handler":"ai_simulator","latency":5000000,"report_usage":false}`
	if got := routes.Get("0.handle.0").Raw; got != want {
		t.Errorf("first route handler %s, want %s (ordered before respond)\n%s", got, want, out)
	}
}
