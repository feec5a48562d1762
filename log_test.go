package aigateway

import (
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// TestOwnLineLevel checks the handler's own "ai gateway request" line: debug, or error for the failures the
// operator must see (a 5xx sent, a stream cut after its 200), never for a client that hangs up.
func TestOwnLineLevel(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  gateway.Result
		want zapcore.Level
	}{
		{"answered", gateway.Result{Status: 200}, zapcore.DebugLevel},
		{"refused", gateway.Result{Status: 401, Err: transform.NewError(401, "authentication_error", "", "no key")}, zapcore.DebugLevel},
		{"client hung up", gateway.Result{Status: 499, Err: transform.NewError(499, "invalid_request_error", "client_closed_request", "gone")}, zapcore.DebugLevel},
		{"client hung up mid-stream", gateway.Result{Status: 200, Stream: true, Err: transform.NewError(499, "invalid_request_error", "client_closed_request", "gone")}, zapcore.DebugLevel},
		{"upstream failed", gateway.Result{Status: 502, Err: transform.NewError(502, "server_error", "", "bad gateway")}, zapcore.ErrorLevel},
		{"stream cut by the upstream", gateway.Result{Status: 200, Stream: true, Err: transform.NewError(502, "server_error", "", "cut")}, zapcore.ErrorLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			h := &Handler{logger: zap.New(core)}
			h.publish(httptest.NewRequest("POST", "/v1/chat/completions", nil), &tc.res, time.Millisecond)
			entries := logs.FilterMessage("ai gateway request").All()
			if len(entries) != 1 || entries[0].Level != tc.want {
				t.Fatalf("entries %v, want one at %s", entries, tc.want)
			}
			if f := entries[0].ContextMap(); f["status"] != int64(tc.res.Status) || f["stream"] != tc.res.Stream {
				t.Errorf("fields %v", f)
			}
		})
	}
	core, logs := observer.New(zapcore.InfoLevel)
	h := &Handler{logger: zap.New(core)}
	h.publish(httptest.NewRequest("POST", "/v1/chat/completions", nil), &gateway.Result{Status: 200}, time.Millisecond)
	if logs.Len() != 0 {
		t.Errorf("at info level, an answered request writes no line of its own: %v", logs.All())
	}
}
