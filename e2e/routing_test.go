package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// goroutineSlack is how far above its idle level a process's goroutine count may stay after a load: runtime
// and timer goroutines come and go, while a leak of one per request would show as hundreds.
const goroutineSlack = 15

// TestRoutingUnderLoad checks issue 7's load case: 500 concurrent requests, half of them streamed, to a route
// whose first target fails half of the time all succeed, and the gateway's goroutines return to their idle
// level afterwards. With the default cooldown the flaky target is soon rested; with cooldown off it keeps
// failing about a quarter of all first attempts, which must all fail over.
func TestRoutingUnderLoad(t *testing.T) {
	requireE2E(t)
	sim := startSimulator(t, "simulator", "")
	for _, cooldown := range []string{"", "cooldown {\n\toff\n}\n"} {
		name := map[bool]string{true: "default cooldown", false: "cooldown off"}[cooldown == ""]
		t.Run(name, func(t *testing.T) {
			gw := startCaddy(t, "gateway", gatewayConfig(
				simProvider("flaky", sim, "fail_rate=0.5, fail_status=503")+
					simProvider("healthy", sim, "")+
					"route smart {\n\ttarget flaky/gpt-4o-mini\n\ttarget healthy/gpt-4o-mini\n}\n"+cooldown))
			loadRoute(t, gw)
		})
	}
}

// loadRoute sends 500 concurrent requests for model "smart" to gw and checks that all succeed and that no
// goroutine is left behind.
func loadRoute(t *testing.T, gw *caddyProc) {
	c := newClient(t)
	ctx := context.Background()

	// Warm up on the healthy target alone: three failures of the flaky one in the warm-up would rest it for the
	// whole load below, and then no request would need a second attempt. Untouched before the load, the flaky
	// target fails (and sends a request to its second attempt) long before it can be rested.
	for i := range 4 {
		if a := chat(ctx, c, gw, chatBody("healthy/gpt-4o-mini", i%2 == 0)); !a.succeeded() {
			t.Fatalf("warm-up request: %s", a.describe())
		}
	}
	idle := settledGoroutines(t, c, gw)

	const total = 500
	answers := make([]*answer, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		wg.Go(func() { answers[i] = chat(ctx, c, gw, chatBody("smart", i%2 == 1)) })
	}
	wg.Wait()
	took := time.Since(start)

	failed, retried := 0, 0
	for i, a := range answers {
		if !a.succeeded() {
			failed++
			if failed <= 5 {
				t.Errorf("request %d (stream %v) failed although the healthy target could serve it: %s", i, i%2 == 1, a.describe())
			}
			continue
		}
		if a.header.Get("X-AI-Gateway-Attempts") != "1" {
			retried++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed; want none", failed, total)
	}
	if retried == 0 {
		t.Errorf("no request needed a second attempt: the flaky target never failed, so the test proves nothing")
	}
	t.Logf("%d concurrent requests in %v; %d needed more than one attempt", total, took.Round(time.Millisecond), retried)

	after, profile := 0, ""
	if !waitFor(ctx, 15*time.Second, func() bool {
		c.CloseIdleConnections()
		after, profile = gw.goroutines()
		return after <= idle+goroutineSlack
	}) {
		if len(profile) > 6000 {
			profile = profile[:6000]
		}
		t.Errorf("the gateway had %d goroutines when idle and still %d 15s after the load; want at most %d (leak). "+
			"Goroutine profile:\n%s", idle, after, idle+goroutineSlack, profile)
	}
	t.Logf("goroutines: %d idle, %d after the load", idle, after)
}

// settledGoroutines waits for the gateway's connections to the client and to the simulator (which closes
// them after a second idle) to close, and returns its goroutine count once it is steady.
func settledGoroutines(t *testing.T, c *http.Client, gw *caddyProc) int {
	t.Helper()
	c.CloseIdleConnections()
	time.Sleep(1500 * time.Millisecond)
	n, _ := gw.goroutines()
	for range 10 {
		time.Sleep(300 * time.Millisecond)
		next, _ := gw.goroutines()
		if next == n {
			break
		}
		n = next
	}
	return n
}

// TestCooldown checks that a target failing every request is rested (no attempts while cooled down), then
// probed and restored after the cooldown once it has recovered.
func TestCooldown(t *testing.T) {
	requireE2E(t)
	good := startSimulator(t, "simulator-good", "")
	bad := startSimulator(t, "simulator-bad", "fail_rate 1\nfail_status 503")
	const cooldown = 3 * time.Second
	gw := startCaddy(t, "gateway", gatewayConfig(
		simProvider("good", good, "")+simProvider("bad", bad, "")+
			"route cool {\n\ttarget bad/gpt-4o-mini\n\ttarget good/gpt-4o-mini\n\tpolicy round_robin\n}\n"+
			fmt.Sprintf("cooldown {\n\tconsecutive_failures 3\n\tduration %v\n}\n", cooldown)))
	c := newClient(t)
	ctx := context.Background()

	// send makes n requests in sequence and returns how many attempts went to bad, and how many answers it
	// gave.
	send := func(phase string, n int) (badAttempts, badAnswers int) {
		t.Helper()
		for i := range n {
			a := chat(ctx, c, gw, chatBody("cool", i%2 == 1))
			if !a.succeeded() {
				t.Fatalf("%s, request %d: %s; want every request served", phase, i+1, a.describe())
			}
			if a.header.Get("X-AI-Gateway-Provider") == "bad" {
				badAnswers++
			} else if a.header.Get("X-AI-Gateway-Attempts") != "1" {
				badAttempts++
			}
		}
		return badAttempts, badAnswers
	}

	started := time.Now()
	tried, _ := send("failing", 10)
	if tried < 1 || tried > 3 {
		t.Errorf("the failing target was tried by %d of 10 requests; want 1 to 3 (cooled down after 3 consecutive failures)", tried)
	}
	tried, _ = send("cooled down", 10)
	if elapsed := time.Since(started); elapsed > cooldown*3/4 {
		t.Fatalf("the first 20 requests took %v, too close to the %v cooldown for the test to mean anything", elapsed, cooldown)
	}
	if tried != 0 {
		t.Errorf("the cooled-down target was tried by %d of 10 requests; want 0", tried)
	}
	lines := gw.waitLog(accessLogMsg, 20, nil)
	if !attemptedTarget(lines[:10], "bad/gpt-4o-mini") {
		t.Errorf("no log line of the first 10 requests lists an attempt at bad/gpt-4o-mini")
	}
	if attemptedTarget(lines[10:20], "bad/gpt-4o-mini") {
		t.Errorf("log lines of requests during the cooldown list attempts at bad/gpt-4o-mini; want it skipped")
	}

	bad.reload(simulatorConfig(""))
	restored := waitFor(ctx, cooldown+5*time.Second, func() bool {
		_, answered := send("recovering", 1)
		return answered == 1
	})
	if !restored {
		t.Fatalf("the recovered target served no request within %v after the cooldown", cooldown+5*time.Second)
	}
	if elapsed := time.Since(started); elapsed < cooldown {
		t.Errorf("the target was back in use %v after it began failing; want it rested for the %v cooldown", elapsed, cooldown)
	}
	if _, answered := send("restored", 10); answered < 4 {
		t.Errorf("the restored target served %d of 10 round-robin requests; want about half", answered)
	}
}

// attemptedTarget reports whether any access log entry lists an attempt at target.
func attemptedTarget(lines []gjson.Result, target string) bool {
	for _, l := range lines {
		for _, a := range l.Get("ai_gateway.attempts").Array() {
			if a.Get("target").Str == target {
				return true
			}
		}
	}
	return false
}
