package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"
)

// A request body nested deeper than transform.MaxJSONDepth is refused with a 400 before any recursive parser
// reads it, whatever its size up to the configured limit, and the upstream is never called.
func TestDeeplyNestedRequestIsRefused(t *testing.T) {
	var calls atomic.Int32
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		calls.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	g := newGateway(t, base, func(c *Config) { c.MaxRequestBody = 16 << 20 })
	bodies := map[string][]byte{
		"6M openers": bytes.Repeat([]byte("["), 6_000_000),
		"in messages": []byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":` +
			strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}]}`),
		"in an unknown field": []byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":` +
			strings.Repeat(`{"a":`, 129) + "1" + strings.Repeat("}", 129) + `}`),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			rec := post(t, g, string(body))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %.200s", rec.Code, rec.Body)
			}
			if code := gjson.Get(rec.Body.String(), "error.code").Str; code != "json_too_deep" {
				t.Fatalf("error code %q, want json_too_deep: %s", code, rec.Body)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the upstream was called %d times", n)
	}
}

// Refusing a deep body costs no more memory than a small multiple of the body: four 4 MiB bodies of '['
// used to take the process from 73 MB to 2.4 GB. A declared length is read into one buffer of that size; a
// body of unknown length (chunked) grows its buffer as it arrives.
func TestDeeplyNestedRequestMemoryIsBounded(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1")
	body := bytes.Repeat([]byte("["), 4<<20-1)
	for _, tc := range []struct {
		name     string
		declared bool
		multiple int
	}{{"declared length", true, 2}, {"chunked", false, 8}} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range 4 {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
				if !tc.declared {
					req.ContentLength = -1
				}
				rec := httptest.NewRecorder()
				g.ServeHTTP(rec, req)
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("status %d", rec.Code)
				}
			}
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("refusing four 4 MiB bodies allocated %d MiB", allocated>>20)
			if limit := uint64(4 * tc.multiple * len(body)); allocated > limit {
				t.Fatalf("refusing four 4 MiB bodies allocated %d MiB, want at most %d MiB", allocated>>20, limit>>20)
			}
		})
	}
}

// A declared Content-Length over the limit gets its 413 before the body is read.
func TestDeclaredLengthOverLimitIsRefusedUnread(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1", func(c *Config) { c.MaxRequestBody = 1 << 10 })
	body := &countingReader{r: strings.NewReader(strings.Repeat("x", 4<<10))}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", body)
	req.ContentLength = 4 << 10
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %s", rec.Code, rec.Body)
	}
	if code := gjson.Get(rec.Body.String(), "error.code").Str; code != "request_too_large" {
		t.Fatalf("error code %q: %s", code, rec.Body)
	}
	if body.n != 0 {
		t.Fatalf("%d bytes of the body were read before refusing it", body.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
