package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTryItPage drives the quickstart's Try it page in headless Chromium as a first-time user would: sign in
// with the key, pick the chat endpoint, ask for a streamed answer, send, and read the answer as it arrives.
// It saves a screenshot of the page (try-it.png under $AIGW_ARTIFACTS) and checks the key stayed out of the
// browser's storage.
func TestTryItPage(t *testing.T) {
	requireE2E(t)
	qs := startQuickstart(t)
	ctx := browser(t)
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	read := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	step("sign in",
		chromedp.Navigate(qs.url("/v1/docs/")),
		chromedp.WaitVisible("#key"),
		chromedp.SendKeys("#key", quickstartKey),
		chromedp.Click("#load"),
		chromedp.WaitVisible(`nav button.op[data-op="post_chat_completions"]`))
	ops := read("the endpoint list", chromedp.Text("#ops"))
	step("send a streamed chat request",
		chromedp.Click(`nav button.op[data-op="post_chat_completions"]`),
		chromedp.SetValue("#model", "anthropic/claude-sonnet-4-5"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById("model").dispatchEvent(new Event("change"))`))
			return err
		}),
		chromedp.Click("#stream"),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#answer-text"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent.includes("done")`))
			return err
		}))
	status := read("the status", chromedp.Text("#status"))
	answer := read("the answer", chromedp.Text("#answer-text"))
	body := read("the body editor", chromedp.Evaluate[string](`document.getElementById("body").value`))
	stored := read("the browser's storage", chromedp.Evaluate[string](`JSON.stringify([document.cookie, Object.keys(localStorage), Object.keys(sessionStorage), document.getElementById("key").value])`))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `"anthropic/claude-sonnet-4-5"`) || !strings.Contains(body, `"stream": true`) {
		t.Errorf("the body editor did not follow the model picker and the stream box: %s", body)
	}
	for _, path := range []string{"/chat/completions", "/embeddings", "/models"} {
		if !strings.Contains(ops, path) {
			t.Errorf("the page lists no %s: %q", path, ops)
		}
	}
	if !strings.Contains(status, "200") || strings.TrimSpace(answer) == "" {
		t.Errorf("status %q, streamed text %q: want a 200 with the answer shown", status, answer)
	}
	if strings.Contains(stored, quickstartKey) {
		t.Errorf("the key is kept in the browser: %s", stored)
	}
	file := filepath.Join(artifactsDir(t), "try-it.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}
