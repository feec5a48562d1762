package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tidwall/gjson"
)

// artifactsDir is where tests leave files for people to look at: $AIGW_ARTIFACTS, else testdata/artifacts
// (ignored by git).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("AIGW_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts Debian's headless chromium with a fresh profile, stopped when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "chromium is not in PATH (Debian: apt-get install chromium)"
		if os.Getenv("CI") == "true" {
			t.Fatal("the console test must run in CI: " + msg)
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 640),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return ctx
}

// TestConsoleInABrowser drives the console page in headless chromium as a person would: sign in with the
// admin key, create a key, copy its secret, see it listed with its usage, revoke it. It saves screenshots of
// the list as test artifacts.
func TestConsoleInABrowser(t *testing.T) {
	requireE2E(t)
	t.Setenv("AIGW_E2E_ADMIN_KEYS", e2eAdminKey)
	sim := startSimulator(t, "simulator", "")
	gw := startCaddy(t, "gateway", gatewayConfig(simProvider("sim", sim, "")+"price sim/* input 0.15 output 0.6\n"+virtualKeys(nil)))
	c := newClient(t)
	ctx := browser(t)
	dir := artifactsDir(t)

	// a second key, made through the API, so the list has more than one
	manage(t, c, gw, http.MethodPost, "/v1/keys", e2eAdminKey,
		`{"name":"staging","models":["sim/gpt-4o-mini"],"requests":"60/1m","tokens":"200000/1m","metadata":{"owner":"ana"}}`)

	type css = chromedp.CSS
	err := chromedp.Do(ctx,
		chromedp.Navigate(gw.url("/v1/console/")),
		chromedp.WaitVisible(css("#admin-key")),
		chromedp.SendKeys(css("#admin-key"), e2eAdminKey),
		chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css("#new-key")),
		chromedp.Click(css("#new-key")),
		chromedp.WaitVisible(css("#f-name")),
		chromedp.SendKeys(css("#f-name"), "search team"),
		chromedp.SendKeys(css("#f-requests"), "120/1m"),
		chromedp.SendKeys(css("#f-limit"), "25"),
		chromedp.SendKeys(css("#f-metadata"), "team=search"),
		chromedp.Click(css("#f-save")),
		chromedp.WaitVisible(css("#secret-value")),
	)
	if err != nil {
		t.Fatalf("sign in and create a key: %v\n%s", err, tail(gw.logPath, 2000))
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(css("#secret-value")))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx, chromedp.Click(css("#copy")), chromedp.WaitVisible(css("#copied")),
		chromedp.Click(css("#secret-done")), chromedp.WaitNotVisible(css("#secret")))
	if err != nil {
		t.Fatalf("copy the secret and close its dialog: %v", err)
	}
	copied := err == nil
	afterClose, err := chromedp.Run(ctx, chromedp.OuterHTML(css("html")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "sk-aigw-") || !copied {
		t.Fatalf("the new key's secret shown once: %q (copied %v)", secret, copied)
	}
	if strings.Contains(afterClose, secret) {
		t.Fatal("the secret is still in the page after its dialog was closed")
	}

	// the key works, and its usage shows in the list after a refresh
	for i := range 3 {
		if a := chat(context.Background(), c, gw, chatBody("sim/gpt-4o-mini", i == 1), "Authorization", "Bearer "+secret); !a.succeeded() {
			t.Fatalf("the key created in the console: %s", a.describe())
		}
	}
	_, list := manage(t, c, gw, http.MethodGet, "/v1/keys", e2eAdminKey, "")
	var id string
	for _, k := range gjson.Get(list, "data").Array() {
		if k.Get("name").Str == "search team" {
			id = k.Get("id").Str
		}
	}
	if id == "" || gjson.Get(list, `data.#(name=="search team").limit`).Float() != 25 {
		t.Fatalf("the key made in the console is not listed as made: %s", list)
	}
	row := `tr[data-id="` + id + `"]`
	if err := chromedp.Do(ctx, chromedp.Click(css("#refresh")), chromedp.WaitVisible(css(row)),
		chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatalf("refresh the list: %v", err)
	}
	rowText, err := chromedp.Run(ctx, chromedp.Text(css(row)))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(row+` button[data-action="usage"]`)), chromedp.WaitVisible(css("#chart svg")),
		chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatalf("open the usage chart: %v", err)
	}
	chart, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css("#usage-close")),
		chromedp.Click(css(row+` button[data-action="revoke"]`)),
		chromedp.WaitVisible(css("#confirm-yes")),
		chromedp.Click(css("#confirm-yes")),
		chromedp.WaitNotPresent(css(row)),
	)
	if err != nil {
		t.Fatalf("revoke the key: %v", err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(css("html")))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(localStorage.length + sessionStorage.length) + "|" + document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-list.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-usage.png"), chart, 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rowText, "search team") || !strings.Contains(rowText, "active") || !strings.Contains(rowText, "3 requests") ||
		!strings.Contains(rowText, "of $25.00 monthly") {
		t.Errorf("the listed key reads %q; want its name, status, usage and budget", rowText)
	}
	if strings.Contains(html, secret[strings.Index(secret, "_")+1:]) || strings.Contains(html, e2eAdminKey) {
		t.Error("the page shows a secret after the key was created")
	}
	if stored != "0|" {
		t.Errorf("the page stored something (storage entries|cookies): %q", stored)
	}
	if a := chat(context.Background(), c, gw, chatBody("sim/gpt-4o-mini", false), "Authorization", "Bearer "+secret); a.status != http.StatusUnauthorized {
		t.Errorf("the key revoked in the console: %s; want 401", a.describe())
	}
}
