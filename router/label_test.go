package router

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Client-chosen names cannot grow the router's memory without bound: the names kept for providers without an
// allow-list are bounded in bytes, not only in count, and a name beyond the bound is still served
// (issue #10, item 6).
func TestDynamicRoutesAreBoundedInBytes(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) { c.Providers[0].Keys = 2 })
	pad := strings.Repeat("x", 64<<10)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range 10_000 {
		name := "a/" + strconv.Itoa(i) + pad
		if got := first(t, r, name); got.String() != name {
			t.Fatalf("name %d was served by %s", i, got.Provider)
		}
	}
	d := r.dynamic.Load()
	if d.bytes > r.dynamicMaxBytes {
		t.Errorf("dynamic routes account %d bytes, over their cap of %d", d.bytes, r.dynamicMaxBytes)
	}
	if len(d.routes) == 0 || len(d.routes) > r.dynamicMaxBytes/(64<<10) {
		t.Errorf("%d dynamic routes of 64 KiB names kept under a %d-byte cap", len(d.routes), r.dynamicMaxBytes)
	}
	// What the router holds, measured: the cap plus a little, never the ~256 MiB of 4,096 such names.
	if grew := int64(heap()) - int64(before); grew > int64(2*r.dynamicMaxBytes) {
		t.Errorf("the heap grew by %d bytes after 10,000 distinct 64 KiB names, want at most %d", grew, 2*r.dynamicMaxBytes)
	}
	runtime.KeepAlive(r)
}

// Targets carry a metrics label that only ever holds configured text: "provider/model" for a model the
// configuration names (allow-list, alias target, route target), "provider/other" for any other name a client
// sends, kept or not.
func TestTargetLabelsCarryOnlyConfiguredNames(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Providers[1].Models = []string{"listed"}
		c.Aliases = map[string]string{"fast": "c/aliased"}
		c.Routes = []RouteConfig{{Name: "smart", Tiers: [][]WeightedTarget{targets("d/routed")}}}
	})
	r.dynamicCap = 1
	for model, want := range map[string]string{
		"b/listed":  "b/listed",
		"fast":      "c/aliased",
		"c/aliased": "c/aliased",
		"smart":     "d/routed",
		"d/routed":  "d/routed",
		// Of these three, whichever comes first is kept, the others are beyond the cap: same label.
		"a/anything": "a/other",
		"a/beyond":   "a/other",
		"c/unlisted": "c/other",
	} {
		if got := first(t, r, model).Label(); got != want {
			t.Errorf("%s: label %q, want %q", model, got, want)
		}
	}
	// Configured names never count against the dynamic cap.
	if n := len(r.dynamic.Load().routes); n != 1 {
		t.Errorf("%d dynamic routes kept, want 1", n)
	}
	if got := (Target{Provider: "a", Model: "x"}).Label(); got != "a/other" {
		t.Errorf("a Target built outside the router has label %q, want a/other", got)
	}
}
