package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// agentsDir is the package of agent clients (Claude Code, Codex CLI), from this package's directory.
const agentsDir = "agents"

// agentKey is the client key of the gateways the agents talk to.
const agentKey = "e2e-agent-key"

// agentRunTimeout bounds one agent run: a scripted task takes about a second, the first start of a
// 300 MB binary on a busy machine much longer.
const agentRunTimeout = 90 * time.Second

// agentsInstall runs `npm ci` in agentsDir once per test run.
var agentsInstall struct {
	once sync.Once
	err  error
}

// agentsCI installs the agent clients' locked packages into agents/node_modules, once per test run, unless
// node_modules already holds the versions package.json pins (the packages are ~800 MB: `npm ci`, which
// always starts afresh, takes a minute even from npm's cache). Install scripts are skipped: both CLIs ship
// their native binary in a platform package, which agentBinary finds.
func agentsCI(t *testing.T) {
	t.Helper()
	agentsInstall.once.Do(func() {
		if agentsInstalled() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir = agentsDir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			agentsInstall.err = fmt.Errorf("npm ci in e2e/%s: %v\n%s", agentsDir, err, out.String())
		}
	})
	if agentsInstall.err != nil {
		t.Fatal(agentsInstall.err)
	}
}

// agentsInstalled reports whether every dependency of agents/package.json is installed at its pinned version.
func agentsInstalled() bool {
	pkg, err := os.ReadFile(filepath.Join(agentsDir, "package.json"))
	if err != nil {
		return false
	}
	deps := gjson.GetBytes(pkg, "dependencies")
	installed := deps.IsObject()
	deps.ForEach(func(name, version gjson.Result) bool {
		b, err := os.ReadFile(filepath.Join(agentsDir, "node_modules", name.Str, "package.json"))
		installed = err == nil && gjson.GetBytes(b, "version").Str == version.Str
		return installed
	})
	return installed
}

// agentBinary returns the native binary a CLI's platform package installed, matched by pattern under
// agents/node_modules (one match: npm installs only this platform's package).
func agentBinary(t *testing.T, pattern string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(agentsDir, "node_modules", pattern))
	if len(matches) != 1 {
		t.Fatalf("want one native binary %s in e2e/%s/node_modules for %s/%s, found %v: did npm skip the "+
			"platform package (an optional dependency)?", pattern, agentsDir, runtime.GOOS, runtime.GOARCH, matches)
	}
	abs, err := filepath.Abs(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// agentTask is a directory holding notes.txt with a fresh code word, which the agent is asked to read.
type agentTask struct {
	dir, codeWord, prompt string
}

func newAgentTask(t *testing.T) agentTask {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	task := agentTask{dir: t.TempDir(), codeWord: "KUMQUAT-" + strings.ToUpper(hex.EncodeToString(b))}
	task.prompt = "read notes.txt and tell me the code word"
	if err := os.WriteFile(filepath.Join(task.dir, "notes.txt"), []byte("The code word is "+task.codeWord+".\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return task
}

// runAgent runs bin with args in the task's directory and a minimal environment (nothing of the test's own,
// so no real key or proxy leaks in), and returns its output.
func runAgent(t *testing.T, task agentTask, bin string, env []string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentRunTimeout)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = task.dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(), "LANG=C.UTF-8",
		"NO_COLOR=1"}, env...)
	cmd.Stdin = nil
	cmd.SysProcAttr = childProcAttr()
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s took %v", filepath.Base(bin), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s %s: %v (context: %v)\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err,
			ctx.Err(), tailString(out.String(), 4000), tailString(errOut.String(), 4000))
	}
	return out.String(), errOut.String()
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// agentGateway starts a gateway in front of the simulator sim (in its scripted agent mode) with an OpenAI, an
// Anthropic and a Gemini provider, the client key agentKey, and the given aliases.
func agentGateway(t *testing.T, sim *caddyProc, aliases string) *caddyProc {
	t.Helper()
	return startCaddy(t, "gateway", gatewayConfig(fmt.Sprintf(`provider openai {
	base_url %s
	api_key sk-e2e-openai
}
provider anthropic {
	type anthropic
	base_url %s
	api_key sk-e2e-anthropic
}
provider google {
	type gemini
	base_url %s
	api_key sk-e2e-gemini
}
client_keys %s
%s`, sim.url("/v1"), sim.url(""), sim.url("/v1beta"), agentKey, aliases)))
}

// requestsTo counts the gateway's access-log entries for path that succeeded.
func requestsTo(gw *caddyProc, path string) int {
	n := 0
	for _, e := range gw.logEntries("handled request") {
		uri, _, _ := strings.Cut(e.Get("request.uri").String(), "?")
		if uri == path && e.Get("status").Int() == 200 {
			n++
		}
	}
	return n
}

// TestAgentClaudeCode runs Claude Code (`claude -p`, from npm) through the gateway on a task that needs a
// tool: read notes.txt and tell the code word in it. The simulator plays the model (its scripted agent mode):
// its first answer calls Read on notes.txt, its second quotes the tool result. The code word is random and
// only in the file, so finding it in Claude Code's answer proves the tool ran and its result went through the
// gateway and back. With the Anthropic provider behind (Messages passthrough), and with the OpenAI and Gemini
// ones (Messages translated through Chat Completions), an alias glob mapping Claude Code's claude-* model
// names; and against the real quickstart as its README shows, naming the model with ANTHROPIC_MODEL.
func TestAgentClaudeCode(t *testing.T) {
	requireE2E(t)
	requireNode(t)
	agentsCI(t)
	bin := agentBinary(t, "@anthropic-ai/claude-code-*/claude")
	sim := startSimulator(t, "simulator", "agent")
	for _, tc := range []struct{ name, target string }{
		{"anthropic passthrough", "anthropic/claude-sonnet-4-5"},
		{"openai translation", "openai/gpt-4o-mini"},
		{"gemini translation", "google/gemini-2.5-flash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := agentGateway(t, sim, "alias claude-* "+tc.target)
			runClaudeCode(t, bin, gw.url(""), agentKey)
			if n := requestsTo(gw, "/v1/messages"); n < 2 {
				t.Errorf("the gateway served %d successful POST /v1/messages, want 2 (the tool call, then the answer)", n)
			}
		})
	}
	t.Run("quickstart", func(t *testing.T) {
		qs := startQuickstart(t)
		runClaudeCode(t, bin, qs.url(""), quickstartKey, "ANTHROPIC_MODEL=anthropic/claude-sonnet-4-5")
	})
}

// runClaudeCode runs Claude Code on a fresh task against the gateway at baseURL and checks, from its
// stream-json output, that it called Read on notes.txt, got the code word back, and answered with it.
func runClaudeCode(t *testing.T, bin, baseURL, key string, env ...string) {
	t.Helper()
	task := newAgentTask(t)
	stdout, stderr := runAgent(t, task, bin, append([]string{
		"ANTHROPIC_BASE_URL=" + baseURL,
		"ANTHROPIC_API_KEY=" + key,
		"CLAUDE_CONFIG_DIR=" + t.TempDir(),
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_TELEMETRY=1", "DISABLE_AUTOUPDATER=1", "DISABLE_ERROR_REPORTING=1", "DISABLE_BUG_COMMAND=1",
	}, env...), "-p", task.prompt, "--allowedTools", "Read", "--max-turns", "4", "--output-format", "stream-json", "--verbose")

	var toolUse, toolResult, result string
	for _, line := range strings.Split(stdout, "\n") {
		ev := gjson.Parse(line)
		ev.Get("message.content").ForEach(func(_, block gjson.Result) bool {
			switch block.Get("type").String() {
			case "tool_use":
				toolUse = block.Get("name").String() + " " + block.Get("input").Raw
			case "tool_result":
				toolResult = block.Get("content").String()
			}
			return true
		})
		if ev.Get("type").String() == "result" {
			result = ev.Get("result").String()
		}
	}
	if !strings.HasPrefix(toolUse, "Read ") || !strings.Contains(toolUse, "notes.txt") {
		t.Errorf("Claude Code's tool call: %q, want Read of notes.txt", toolUse)
	}
	if !strings.Contains(toolResult, task.codeWord) {
		t.Errorf("the tool result %q does not hold the code word %s", toolResult, task.codeWord)
	}
	if !strings.Contains(result, task.codeWord) {
		t.Errorf("Claude Code's answer %q does not hold the code word %s", result, task.codeWord)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", tailString(stdout, 6000), tailString(stderr, 2000))
	}
}

// TestAgentCodex runs the Codex CLI (`codex exec`, from npm) through the gateway on the same task, with a
// custom model provider at the gateway speaking the Responses API. The simulator's first answer calls
// exec_command with `cat notes.txt`, its second quotes the command's output. With the OpenAI provider behind
// (Responses passthrough), and with the Anthropic and Gemini ones (Responses translated through chat), an
// alias mapping the model Codex asks for; and against the real quickstart, naming provider/model.
func TestAgentCodex(t *testing.T) {
	requireE2E(t)
	requireNode(t)
	agentsCI(t)
	bin := agentBinary(t, "@openai/codex-*/vendor/*/bin/codex")
	sim := startSimulator(t, "simulator", "agent")
	for _, tc := range []struct{ name, target string }{
		{"openai passthrough", "openai/gpt-5.5"},
		{"anthropic translation", "anthropic/claude-sonnet-4-5"},
		{"gemini translation", "google/gemini-2.5-flash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := agentGateway(t, sim, "alias gpt-5.5 "+tc.target)
			runCodex(t, bin, gw.url("/v1"), agentKey, "gpt-5.5")
			if n := requestsTo(gw, "/v1/responses"); n < 2 {
				t.Errorf("the gateway served %d successful POST /v1/responses, want 2 (the tool call, then the answer)", n)
			}
		})
	}
	t.Run("quickstart", func(t *testing.T) {
		qs := startQuickstart(t)
		runCodex(t, bin, qs.url("/v1"), quickstartKey, "openai/gpt-4o-mini")
	})
}

// runCodex runs `codex exec` on a fresh task with a model provider at the gateway's baseURL, and checks, from
// its JSON events and last message, that it ran cat notes.txt, got the code word back, and answered with it.
func runCodex(t *testing.T, bin, baseURL, key, model string) {
	t.Helper()
	task := newAgentTask(t)
	codexHome := t.TempDir()
	config := fmt.Sprintf(`model = %q
model_provider = "aigw"

[model_providers.aigw]
name = "caddy-ai-gateway"
base_url = %q
env_key = "AIGW_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`, model, baseURL)
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(t.TempDir(), "last-message.txt")
	stdout, stderr := runAgent(t, task, bin, []string{"CODEX_HOME=" + codexHome, "AIGW_API_KEY=" + key},
		"exec", "--json", "--ephemeral", "--skip-git-repo-check", "--color", "never",
		"--sandbox", "read-only", "-o", last, task.prompt)

	var command, output string
	for _, line := range strings.Split(stdout, "\n") {
		ev := gjson.Parse(line)
		if ev.Get("type").String() == "item.completed" && ev.Get("item.type").String() == "command_execution" {
			command = ev.Get("item.command").String()
			output = ev.Get("item.aggregated_output").String()
		}
	}
	answer, _ := os.ReadFile(last)
	if !strings.Contains(command, "cat notes.txt") {
		t.Errorf("Codex ran %q, want cat notes.txt", command)
	}
	if !strings.Contains(output, task.codeWord) {
		t.Errorf("the command's output %q does not hold the code word %s", output, task.codeWord)
	}
	if !strings.Contains(string(answer), task.codeWord) {
		t.Errorf("Codex's last message %q does not hold the code word %s", answer, task.codeWord)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", tailString(stdout, 6000), tailString(stderr, 3000))
	}
}
