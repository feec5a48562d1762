package aigateway

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

var updateAdapt = flag.Bool("update-adapt", false, "rewrite the JSON of testdata/caddyfile_adapt/*.caddyfiletest from the adapter's output")

// TestCaddyfileAdaptGolden runs the golden adapt tests of testdata/caddyfile_adapt, in the format of Caddy's
// own caddytest/integration/caddyfile_adapt: a Caddyfile, a line of ten dashes, then either the JSON it must
// adapt to or a text the adapt error must contain.
func TestCaddyfileAdaptGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden adapt tests: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(string(data), "----------")
			if len(parts) != 2 {
				t.Fatalf("%s: want a Caddyfile, a line of ten dashes, and the JSON or error", file)
			}
			caddyfile, expected := strings.TrimSpace(parts[0])+"\n", strings.TrimSpace(parts[1])
			if strings.HasPrefix(expected, "{") {
				if *updateAdapt {
					out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
					if err != nil {
						t.Fatal(err)
					}
					var buf bytes.Buffer
					_ = json.Indent(&buf, out, "", "\t")
					if err := os.WriteFile(file, []byte(strings.TrimSpace(parts[0])+"\n----------\n"+buf.String()+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				if !caddytest.CompareAdapt(t, file, caddyfile, "caddyfile", expected) {
					t.Errorf("%s: adapted JSON differs", file)
				}
				provisionAdapted(t, []byte(expected))
				return
			}
			_, _, err = caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
			if err == nil {
				t.Fatalf("%s: adapted without error; want one containing %q", file, expected)
			}
			if !strings.Contains(err.Error(), expected) {
				t.Errorf("%s: error\n%s\nwant it to contain\n%s", file, err, expected)
			}
		})
	}
}

// provisionAdapted provisions every ai_gateway handler of an adapted config, as Caddy would load it: the
// JSON the Caddyfile adapts to must also be a config the handler accepts.
func provisionAdapted(t *testing.T, config []byte) int {
	t.Helper()
	t.Setenv("GATEWAY_KEYS", "docs-test-client-key") // client_keys must resolve to a key
	var cfg any
	if err := json.Unmarshal(config, &cfg); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			if v["handler"] != "ai_gateway" {
				for _, e := range v {
					walk(e)
				}
				return
			}
			n++
			raw, _ := json.Marshal(v)
			h := new(Handler)
			if err := json.Unmarshal(raw, h); err != nil {
				t.Fatalf("the adapted handler does not decode: %v", err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			err := h.Provision(ctx)
			if err == nil {
				err = h.Validate()
			}
			_ = h.Cleanup()
			cancel()
			if err != nil {
				t.Errorf("the adapted handler does not provision: %v", err)
			}
		}
	}
	walk(cfg)
	return n
}
