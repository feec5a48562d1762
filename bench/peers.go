package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// peer is another AI gateway measured against the same simulator, one process per row: each row's process
// points at the simulator site for that row (short answers or long streams), so no routing is involved.
type peer struct {
	name string // as shown in the table
	// prepare finds or installs the peer; it returns its version, or why it is skipped.
	prepare func(ctx context.Context, r *runner) (version, skip string, err error)
	// start runs the peer on listen, forwarding to the simulator on upstream.
	start func(ctx context.Context, r *runner, slug string, upstream, listen int) (*caddyProcess, error)
	// target is what the load generator sends to the peer listening on listen.
	target func(listen, upstream int, stream bool) target
}

func peers() []*peer {
	return []*peer{bifrostPeer(), portkeyPeer()}
}

// bifrostPeer runs a bifrost-http binary built out of tree (github.com/maximhq/bifrost, transports/bifrost-http)
// in file-based mode: config.json in its -app-dir, with config_store and logs_store disabled (no SQLite), and
// request logging and governance off.
func bifrostPeer() *peer {
	return &peer{
		name: "Bifrost",
		prepare: func(ctx context.Context, r *runner) (string, string, error) {
			bin := r.opts.bifrost
			if bin == "" {
				return "", "no binary: set -bifrost or AIGW_BENCH_BIFROST to a bifrost-http binary built from its source", nil
			}
			if st, err := os.Stat(bin); err != nil || st.IsDir() {
				return "", fmt.Sprintf("-bifrost %s is not a file", bin), nil
			}
			return binaryVersion(ctx, bin), "", nil
		},
		start: func(ctx context.Context, r *runner, slug string, upstream, listen int) (*caddyProcess, error) {
			dir := filepath.Join(r.dir, slug)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			cfg, err := json.MarshalIndent(bifrostConfig(upstream), "", "  ")
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
				return nil, err
			}
			cmd := exec.Command(r.opts.bifrost, "-app-dir", dir, "-host", "127.0.0.1", "-port", strconv.Itoa(listen),
				"-log-level", "error")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir)
			return startProcess(ctx, cmd, slug, filepath.Join(dir, "bifrost.log"), "", []int{listen}, r.procs)
		},
		target: func(listen, _ int, stream bool) target {
			return target{url: "http://127.0.0.1:" + strconv.Itoa(listen) + "/v1/chat/completions",
				body: requestBody("openai/gpt-4o-mini", stream), stream: stream}
		},
	}
}

// bifrostConfig is the config.json the bench writes for Bifrost: one OpenAI provider whose base URL is the
// simulator site (Bifrost appends the /v1/chat/completions path; the simulator answers any path ending in
// /chat/completions), a key for every model, and everything that logs or persists off.
func bifrostConfig(upstream int) map[string]any {
	return map[string]any{
		"client": map[string]any{
			"drop_excess_requests": false,
			"enable_logging":       false,
			"enable_governance":    false,
			"allow_direct_keys":    false,
		},
		"providers": map[string]any{
			"openai": map[string]any{
				"keys": []any{map[string]any{"name": "sim", "value": "sim-key", "models": []string{"*"}, "weight": 1.0}},
				"network_config": map[string]any{
					"base_url":                           "http://127.0.0.1:" + strconv.Itoa(upstream),
					"default_request_timeout_in_seconds": 60,
				},
				"concurrency_and_buffer_size": map[string]any{"concurrency": 1000, "buffer_size": 5000},
			},
		},
		"config_store": map[string]any{"enabled": false},
		"logs_store":   map[string]any{"enabled": false},
	}
}

// portkeyPeer installs Portkey's open-source gateway from npm into the run's temporary directory and runs it
// with node, headless and with NODE_ENV=production (no UI, no log stream), the provider and upstream chosen
// per request by its x-portkey-provider and x-portkey-custom-host headers.
//
// Its streamed answers fail with the @hono/node-server 1.x its package.json allows (^1.3.3): that version's
// lightweight Response keeps the upstream fetch Response's own headers object, which is immutable, and
// Portkey then appends its x-portkey-* headers to it ("TypeError: immutable" in updateHeaders, a 500 for
// every stream). @hono/node-server 2.x copies those headers, so the bench installs Portkey with an npm
// override to it.
func portkeyPeer() *peer {
	const (
		pkg     = "@portkey-ai/gateway"
		version = "1.15.2"
		// honoNodeServer is the override that makes Portkey's streams work (see above).
		honoNodeServer = "2.1.9"
	)
	dir := func(r *runner) string { return filepath.Join(r.dir, "portkey") }
	return &peer{
		name: "Portkey gateway",
		prepare: func(ctx context.Context, r *runner) (string, string, error) {
			if !r.opts.portkey {
				return "", "not requested: set -portkey or AIGW_BENCH_PORTKEY=1 (installs " + pkg + " with npm into a temporary directory)", nil
			}
			for _, tool := range []string{"node", "npm"} {
				if _, err := exec.LookPath(tool); err != nil {
					return "", tool + " is not installed", nil
				}
			}
			d := dir(r)
			if err := os.MkdirAll(d, 0o755); err != nil {
				return "", "", err
			}
			manifest, err := json.Marshal(map[string]any{"name": "aigw-bench-portkey", "private": true,
				"dependencies": map[string]string{pkg: version},
				"overrides":    map[string]string{"@hono/node-server": honoNodeServer}})
			if err != nil {
				return "", "", err
			}
			if err := os.WriteFile(filepath.Join(d, "package.json"), manifest, 0o644); err != nil {
				return "", "", err
			}
			logf("installing %s@%s (@hono/node-server %s) with npm", pkg, version, honoNodeServer)
			cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--silent")
			cmd.Dir = d
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", "", fmt.Errorf("npm install %s: %v\n%s", pkg, err, out)
			}
			var meta struct{ Version string }
			b, err := os.ReadFile(filepath.Join(d, "node_modules", pkg, "package.json"))
			if err == nil {
				err = json.Unmarshal(b, &meta)
			}
			if err != nil {
				return "", "", fmt.Errorf("reading the installed %s version: %v", pkg, err)
			}
			node, _ := exec.CommandContext(ctx, "node", "--version").Output()
			return meta.Version + " (@hono/node-server " + honoNodeServer + "), node " + strings.TrimSpace(string(node)), "", nil
		},
		start: func(ctx context.Context, r *runner, slug string, _, listen int) (*caddyProcess, error) {
			d := dir(r)
			cmd := exec.Command("node", filepath.Join(d, "node_modules", pkg, "build", "start-server.js"),
				"--port="+strconv.Itoa(listen), "--headless")
			cmd.Dir = d
			cmd.Env = append(os.Environ(), "NODE_ENV=production")
			return startProcess(ctx, cmd, slug, filepath.Join(d, slug+".log"), "", []int{listen}, r.procs)
		},
		target: func(listen, upstream int, stream bool) target {
			return target{url: "http://127.0.0.1:" + strconv.Itoa(listen) + "/v1/chat/completions",
				body: requestBody("gpt-4o-mini", stream), stream: stream,
				headers: map[string]string{
					"Authorization":         "Bearer sim-key",
					"x-portkey-provider":    "openai",
					"x-portkey-custom-host": "http://127.0.0.1:" + strconv.Itoa(upstream) + "/v1",
				}}
		},
	}
}

// binaryVersion asks a binary for its version (-version), returning "" if it does not answer.
func binaryVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "-version").CombinedOutput()
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(out))
	if i := strings.IndexByte(v, '\n'); i >= 0 {
		v = v[:i]
	}
	if len(v) > 40 {
		v = v[:40]
	}
	return v
}

// firstErrorLine returns the first line of a log file that mentions an error, shortened.
func firstErrorLine(path string) string {
	b, _ := os.ReadFile(path)
	for _, l := range strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.Contains(strings.ToLower(l), "error") {
			l = strings.TrimSpace(l)
			if len(l) > 160 {
				l = l[:160] + "..."
			}
			return l
		}
	}
	return ""
}

// runPeer measures a peer's non-streamed and streamed rows, each in a fresh process pointed at its upstream.
func (r *runner) runPeer(ctx context.Context, pe *peer) ([]*row, []string) {
	plain, stream := pe.name, pe.name+", stream"
	version, skip, err := pe.prepare(ctx, r)
	if skip != "" || err != nil {
		if err != nil {
			skip = "could not be prepared, see problems"
		}
		logf("skipping %s: %s", pe.name, skip)
		rows := []*row{{name: plain, peer: pe.name, skipped: skip}, {name: stream, stream: true, peer: pe.name, skipped: skip}}
		if err != nil {
			return rows, []string{pe.name + ": " + err.Error()}
		}
		return rows, nil
	}
	if version != "" {
		plain, stream = pe.name+" "+version, pe.name+" "+version+", stream"
	}
	var rows []*row
	var problems []string
	for _, st := range []bool{false, true} {
		if ctx.Err() != nil {
			break
		}
		name, upstream, mode := plain, r.up.short, "short"
		if st {
			name, upstream, mode = stream, r.up.long, "long"
		}
		listen, err := freePort()
		if err != nil {
			return rows, append(problems, err.Error())
		}
		slug := strings.ToLower(strings.ReplaceAll(pe.name, " ", "_")) + "_" + mode
		logf("starting %s for %s", pe.name, mode)
		p, err := pe.start(ctx, r, slug, upstream, listen)
		if err != nil {
			rows = append(rows, &row{name: name, stream: st, peer: pe.name, skipped: "could not start, see problems"})
			problems = append(problems, err.Error())
			continue
		}
		t := pe.target(listen, upstream, st)
		// One request first: a peer that cannot serve this scenario is reported as skipped, with its error,
		// rather than as thousands of failed requests.
		client := newClient(1)
		if _, _, err := newWorker(client, t).do(ctx, time.Now()); err != nil {
			why := fmt.Sprintf("its first request failed (%v)", err)
			if line := firstErrorLine(p.log); line != "" {
				why += "; its log: " + line
			}
			p.stop()
			logf("skipping %s: %s", name, why)
			rows = append(rows, &row{name: name, stream: st, peer: pe.name, skipped: why})
			continue
		}
		client.CloseIdleConnections()
		rw := &row{name: name, stream: st, peer: pe.name}
		r.measure(ctx, rw, t, p.pid())
		p.stop()
		rows = append(rows, rw)
	}
	return rows, problems
}
