package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// npmDir is the acceptance package of JavaScript clients, from this package's directory.
const npmDir = "npm"

// npmScenarios are the scenarios acceptance.mjs must have; the test runs every scenario it lists.
var npmScenarios = []string{"models", "chat", "chat-stream", "embeddings-default", "embeddings-float", "embeddings-base64",
	"completions", "completions-stream", "moderations", "images", "audio", "videos", "errors", "parse", "parse-stream",
	"ai-sdk", "ai-sdk-responses"}

// npmInstall runs `npm ci` in npmDir once per test run.
var npmInstall struct {
	once sync.Once
	err  error
}

// requireNode skips the test when node or npm is missing, unless CI=true, where their absence is a failure:
// .ci/run installs them.
func requireNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not in PATH: .ci/run should have installed it", tool)
			}
			t.Skipf("%s is not in PATH: install Node.js 18 or later to run the JavaScript acceptance scenarios", tool)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil || major < 18 {
		t.Fatalf("node --version: %q (%v): the acceptance package needs Node.js 18 or later", out, err)
	}
}

// npmCI installs the acceptance package's locked dependencies into npm/node_modules, once per test run.
func npmCI(t *testing.T) {
	t.Helper()
	npmInstall.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir = npmDir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			npmInstall.err = fmt.Errorf("npm ci in e2e/%s: %v\n%s", npmDir, err, out.String())
		}
	})
	if npmInstall.err != nil {
		t.Fatal(npmInstall.err)
	}
}

// TestQuickstartOpenAINode runs the npm `openai` client and the Vercel AI SDK against the real quickstart, one
// node process per scenario of npm/acceptance.mjs: the model list and one model; chat streamed and not on the
// three chat providers; embeddings (the client's default base64, float, explicit base64) on OpenAI and Gemini;
// completions streamed and not; moderations; video jobs (create, poll, download) on OpenAI and Veo; typed
// errors (unsupported_endpoint, unknown_url); structured outputs with `.parse` and `.stream` on the three chat
// providers; and the AI SDK's generateText, streamText, structured output and embed.
func TestQuickstartOpenAINode(t *testing.T) {
	requireE2E(t)
	requireNode(t)
	npmCI(t)
	qs := startQuickstart(t)
	script, err := filepath.Abs(filepath.Join(npmDir, "acceptance.mjs"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", script, "--list").Output()
	if err != nil {
		t.Fatalf("node acceptance.mjs --list: %v", err)
	}
	listed := strings.Fields(string(out))
	for _, s := range npmScenarios {
		if !slices.Contains(listed, s) {
			t.Errorf("acceptance.mjs has no scenario %q; it lists %v", s, listed)
		}
	}

	env := append(os.Environ(), "AIGW_BASE_URL="+qs.url("/v1"), "AIGW_API_KEY="+quickstartKey)
	// Two node processes at a time: each holds a core while it loads its modules.
	sem := make(chan struct{}, 2)
	for _, name := range listed {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", script, name)
			cmd.Dir = npmDir
			cmd.Env = env
			cmd.SysProcAttr = childProcAttr()
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("node acceptance.mjs %s: %v (context: %v)\n%s", name, err, ctx.Err(), out.String())
			}
			if !strings.Contains(out.String(), "ok "+name) {
				t.Fatalf("node acceptance.mjs %s exited 0 without saying ok:\n%s", name, out.String())
			}
		})
	}
}
