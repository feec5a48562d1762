package sdktest

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/simulator"
)

// testKey is the only key the test simulators accept, so every test also checks that the SDK sends its key
// where the provider expects it.
const testKey = "sk-sdktest"

// textWords is the length of the simulated text answers.
const textWords = 7

// startSimulator serves a simulator answering textWords-word texts in chunks of two words.
func startSimulator(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(simulator.New(simulator.Config{
		CompletionTokens: textWords,
		ChunkTokens:      2,
		RequireKey:       testKey,
	}))
	t.Cleanup(srv.Close)
	return srv
}

// wordCount is the number of space-separated words in s.
func wordCount(s string) int { return len(strings.Fields(s)) }
