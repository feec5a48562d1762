package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// upstreams are the simulator's sites, one per answer shape; all speak every dialect.
type upstreams struct {
	short  int // 20-token answers
	long   int // answers of opts.chunks one-token chunks
	slow   int // one token a second: streams that stay open
	silent int // like short, reporting no usage
	quiet  int // like long, reporting no usage
}

// family is one Caddy process under test and the scenarios it serves.
type family struct {
	name string
	// caddyfile returns the sites (after the global options) given the simulator's ports and the ports this
	// process listens on: ports[0] serves short answers, ports[1] long streams, ports[2] slow streams.
	caddyfile func(u upstreams, ports []int) string
	// portsUsed is how many listen ports the sites need.
	portsUsed int
	// url returns the URL and model for a mode: "short", "long" or "slow".
	url func(ports []int, mode string) (string, string)
	// probe, when set, checks that the feature under test exists, returning why it is skipped otherwise.
	probe func(ctx context.Context, r *runner, ports []int) string
	// adaptCheck, when set, is a Caddyfile fragment Caddy must accept for the family to run.
	adaptCheck bool
	// rows are the table rows: non-streamed and streamed.
	plain, stream string
	// holdStreams measures the open-streams memory figures.
	holdStreams bool
	// env is added to the Caddy process's environment.
	env []string
}

const (
	rowDirect       = "direct to simulator"
	rowDirectStream = "direct to simulator, stream"
	rowProxy        = "reverse_proxy"
	rowProxyStream  = "reverse_proxy, stream (flush_interval -1)"
)

func gatewaySite(port int, providers string, extra string) string {
	return fmt.Sprintf("http://127.0.0.1:%d {\n\tai_gateway {\n%s%s\t}\n}\n", port, providers, extra)
}

// gatewayProviders declares providers short, long and slow of one type, pointing at the simulator.
func gatewayProviders(typ string, u upstreams, short, long int) string {
	path := map[string]string{"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}[typ]
	var b strings.Builder
	for _, p := range []struct {
		name string
		port int
	}{{"short", short}, {"long", long}, {"slow", u.slow}} {
		fmt.Fprintf(&b, "\t\tprovider %s {\n\t\t\ttype %s\n\t\t\tbase_url http://127.0.0.1:%d%s\n\t\t\tapi_key sim-key\n\t\t}\n",
			p.name, typ, p.port, path)
	}
	return b.String()
}

func gatewayURL(model string) func([]int, string) (string, string) {
	return func(ports []int, mode string) (string, string) {
		return "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/v1/chat/completions", mode + "/" + model
	}
}

// rateLimitBlock is a limit high enough never to refuse, so that the row measures the limiter's cost.
const rateLimitBlock = "\t\trate_limit bench {\n\t\t\tkey {http.request.header.Authorization}\n" +
	"\t\t\trequests 1000000000/1m\n\t\t\ttokens 1000000000000/1m\n\t\t}\n"

func families() []*family {
	gw := func(name, typ, model string) *family {
		return &family{
			name: name, portsUsed: 1, plain: "ai_gateway " + name, stream: "ai_gateway " + name + ", stream",
			holdStreams: true,
			caddyfile: func(u upstreams, ports []int) string {
				return gatewaySite(ports[0], gatewayProviders(typ, u, u.short, u.long), "")
			},
			url: gatewayURL(model),
		}
	}
	usageFam := &family{
		name: "openai + usage counting", portsUsed: 1,
		plain:  "ai_gateway openai, usage counted (silent upstream)",
		stream: "ai_gateway openai, usage counted (silent upstream), stream",
		caddyfile: func(u upstreams, ports []int) string {
			return gatewaySite(ports[0], gatewayProviders("openai", u, u.silent, u.quiet), "")
		},
		url:   gatewayURL("gpt-4o-mini"),
		probe: probeCountedUsage,
	}
	// The same gateway with net/http's Transport to the upstream instead of its own HTTP/1.1 client.
	netHTTP := gw("openai nethttp", "openai", "gpt-4o-mini")
	netHTTP.plain, netHTTP.stream = "ai_gateway openai, net/http client", "ai_gateway openai, net/http client, stream"
	netHTTP.env, netHTTP.holdStreams = []string{"AIGW_NETHTTP_CLIENT=1"}, false
	limitFam := &family{
		name: "openai + rate limit", portsUsed: 1, adaptCheck: true,
		plain:  "ai_gateway openai, rate limit on",
		stream: "ai_gateway openai, rate limit on, stream",
		caddyfile: func(u upstreams, ports []int) string {
			return gatewaySite(ports[0], gatewayProviders("openai", u, u.short, u.long), rateLimitBlock)
		},
		url: gatewayURL("gpt-4o-mini"),
	}
	proxy := &family{
		name: "reverse_proxy", portsUsed: 3, plain: rowProxy, stream: rowProxyStream, holdStreams: true,
		caddyfile: func(u upstreams, ports []int) string {
			return fmt.Sprintf("http://127.0.0.1:%d {\n\treverse_proxy 127.0.0.1:%d\n}\n", ports[0], u.short) +
				fmt.Sprintf("http://127.0.0.1:%d {\n\treverse_proxy 127.0.0.1:%d {\n\t\tflush_interval -1\n\t}\n}\n", ports[1], u.long) +
				fmt.Sprintf("http://127.0.0.1:%d {\n\treverse_proxy 127.0.0.1:%d {\n\t\tflush_interval -1\n\t}\n}\n", ports[2], u.slow)
		},
		url: func(ports []int, mode string) (string, string) {
			i := map[string]int{"short": 0, "long": 1, "slow": 2}[mode]
			return "http://127.0.0.1:" + strconv.Itoa(ports[i]) + "/v1/chat/completions", "gpt-4o-mini"
		},
	}
	return []*family{
		proxy,
		gw("openai", "openai", "gpt-4o-mini"),
		netHTTP,
		gw("anthropic", "anthropic", "claude-sonnet-4-5"),
		gw("gemini", "gemini", "gemini-2.5-flash-lite"),
		usageFam,
		limitFam,
	}
}

// probeCountedUsage checks that the gateway fills in usage when the upstream reports none.
func probeCountedUsage(ctx context.Context, r *runner, ports []int) string {
	url, model := gatewayURL("gpt-4o-mini")(ports, "short")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(requestBody(model, false))))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "probe request failed: " + err.Error()
	}
	defer resp.Body.Close()
	origin := resp.Header.Get("X-AI-Gateway-Usage")
	if resp.StatusCode != http.StatusOK || (origin != "counted" && origin != "estimated") {
		return fmt.Sprintf("the gateway does not count usage for a silent upstream yet (status %d, X-AI-Gateway-Usage '%s')",
			resp.StatusCode, origin)
	}
	return ""
}

// requestBody is the chat request every scenario sends.
func requestBody(model string, stream bool) []byte {
	b := `{"model":"` + model + `","messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"Say hello in a few words."}]`
	if stream {
		b += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	return []byte(b + "}")
}

// runner holds the state of one benchmark run.
type runner struct {
	opts  options
	bin   string
	dir   string
	procs *processSet
	sim   *caddyProcess
	up    upstreams
}

func (r *runner) startSimulator(ctx context.Context) error {
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	r.up = upstreams{short: ports[1], long: ports[2], slow: ports[3], silent: ports[4], quiet: ports[5]}
	lat := ""
	if r.opts.latency > 0 {
		lat = "\t\tlatency " + r.opts.latency.String() + "\n"
	}
	site := func(port int, knobs string) string {
		return fmt.Sprintf("http://127.0.0.1:%d {\n\tai_simulator {\n%s%s\t}\n}\n", port, lat, knobs)
	}
	long := fmt.Sprintf("\t\tcompletion_tokens %d\n", r.opts.chunks)
	if r.opts.burst {
		long += "\t\tburst\n"
	}
	cfg := globalOptions(ports[0], r.dir+"/sim-data") +
		site(r.up.short, "\t\tcompletion_tokens 20\n") +
		site(r.up.long, long) +
		site(r.up.slow, "\t\tcompletion_tokens 3000\n\t\ttokens_per_second 1\n") +
		site(r.up.silent, "\t\tcompletion_tokens 20\n\t\treport_usage off\n") +
		site(r.up.quiet, long+"\t\treport_usage off\n")
	logf("starting the simulator")
	r.sim, err = startCaddy(ctx, r.bin, r.dir, "simulator", cfg, ports[0], ports[1:], r.procs)
	return err
}

// runAll measures the direct scenarios, then every family in turn. It returns the table rows and the
// problems met (errors, failed starts), which fail a smoke run.
func (r *runner) runAll(ctx context.Context) ([]*row, []string) {
	var rows []*row
	var problems []string
	direct := func(stream bool) (target, string) {
		port, name := r.up.short, rowDirect
		if stream {
			port, name = r.up.long, rowDirectStream
		}
		return target{url: "http://127.0.0.1:" + strconv.Itoa(port) + "/v1/chat/completions",
			body: requestBody("gpt-4o-mini", stream), stream: stream}, name
	}
	for _, stream := range []bool{false, true} {
		t, name := direct(stream)
		rw := &row{name: name, stream: stream, direct: true}
		r.measure(ctx, rw, t, r.sim.pid())
		rows = append(rows, rw)
	}
	for _, f := range families() {
		if ctx.Err() != nil {
			break
		}
		if r.opts.only != "" && f.plain != rowProxy && !strings.Contains(f.plain, r.opts.only) {
			continue
		}
		frows, fprobs := r.runFamily(ctx, f)
		rows = append(rows, frows...)
		problems = append(problems, fprobs...)
	}
	for _, pe := range peers() {
		if ctx.Err() != nil {
			break
		}
		prows, pprobs := r.runPeer(ctx, pe)
		rows = append(rows, prows...)
		problems = append(problems, pprobs...)
	}
	for _, rw := range rows {
		for _, c := range rw.cells {
			if c.res.errors > 0 {
				problems = append(problems, fmt.Sprintf("%s, %s: %d errors, first: %s", rw.name, c.label, c.res.errors, c.res.firstErr))
			} else if c.res.requests == 0 {
				problems = append(problems, fmt.Sprintf("%s, %s: no request completed in the measured window", rw.name, c.label))
			}
		}
		if rw.streams != nil && rw.streams.errors > 0 {
			problems = append(problems, fmt.Sprintf("%s, open streams: %d errors, first: %s", rw.name, rw.streams.errors, rw.streams.firstErr))
		}
	}
	return rows, problems
}

func (r *runner) runFamily(ctx context.Context, f *family) ([]*row, []string) {
	skipped := func(reason string) []*row {
		logf("skipping %s: %s", f.name, reason)
		return []*row{{name: f.plain, skipped: reason}, {name: f.stream, stream: true, skipped: reason}}
	}
	ports, err := freePorts(f.portsUsed + 1)
	if err != nil {
		return nil, []string{err.Error()}
	}
	slug := strings.NewReplacer(" ", "_", "+", "", ",", "").Replace(f.name)
	cfg := globalOptions(ports[0], r.dir+"/"+slug+"/data") + f.caddyfile(r.up, ports[1:])
	if f.adaptCheck {
		if ok, why := adapts(ctx, r.bin, r.dir, cfg); !ok {
			return skipped("not available in this build (Caddy refuses the config: " + why + ")"), nil
		}
	}
	logf("starting Caddy for %s", f.name)
	p, err := startCaddy(ctx, r.bin, r.dir, slug, cfg, ports[0], ports[1:], r.procs, f.env...)
	if err != nil {
		return []*row{{name: f.plain, skipped: "Caddy could not start, see problems"}}, []string{err.Error()}
	}
	defer p.stop()
	if f.probe != nil {
		if why := f.probe(ctx, r, ports[1:]); why != "" {
			return skipped(why), nil
		}
	}
	var rows []*row
	for _, stream := range []bool{false, true} {
		mode, name := "short", f.plain
		if stream {
			mode, name = "long", f.stream
		}
		url, model := f.url(ports[1:], mode)
		rw := &row{name: name, stream: stream}
		if stream && f.holdStreams && r.opts.openStreams > 0 && ctx.Err() == nil {
			// In a fresh process, before any load run, so that the figure is not the heap that load left behind.
			fresh, err := startCaddy(ctx, r.bin, r.dir, slug+"_streams", cfg, ports[0], ports[1:], r.procs, f.env...)
			if err != nil {
				return rows, []string{err.Error()}
			}
			url, model := f.url(ports[1:], "slow")
			logf("%s: holding %d streams open", name, r.opts.openStreams)
			res := holdStreams(ctx, target{url: url, body: requestBody(model, true), stream: true}, r.opts.openStreams, fresh)
			rw.streams = &res
			fresh.stop()
		}
		r.measure(ctx, rw, target{url: url, body: requestBody(model, stream), stream: stream}, p.pid())
		rows = append(rows, rw)
	}
	return rows, nil
}

// measure runs the closed loops (and the open loop) of one row.
func (r *runner) measure(ctx context.Context, rw *row, t target, pid int) {
	warm := min(500*time.Millisecond, r.opts.duration/5)
	for _, c := range r.opts.concurrency {
		if ctx.Err() != nil {
			return
		}
		logf("%s: concurrency %d for %v", rw.name, c, r.opts.duration)
		res := closedLoop(ctx, t, c, warm, r.opts.duration, pid)
		rw.cells = append(rw.cells, newCell("c="+strconv.Itoa(c), res))
	}
	if r.opts.rate > 0 && ctx.Err() == nil {
		logf("%s: open loop at %d/s for %v", rw.name, r.opts.rate, r.opts.duration)
		res := openLoop(ctx, t, r.opts.rate, r.opts.duration, pid)
		rw.cells = append(rw.cells, newCell(strconv.Itoa(r.opts.rate)+"/s open", res))
	}
}
