// Command bench measures what the ai_gateway handler costs on top of Caddy's own reverse_proxy to the same
// upstream, on this machine, in one run. It builds Caddy from ./cmd/caddy (or uses -caddy), starts a simulated
// upstream and one Caddy process per scenario on free loopback ports, drives each with a closed-loop load
// generator at several concurrencies (and optionally an open loop at a fixed rate), holds many streams open to
// measure memory, and prints one markdown table in which every figure carries its ratio to the reverse_proxy
// baseline.
//
//	go run ./bench -duration 10s           # full run, table on stdout
//	go run ./bench -duration 5s -write     # also write bench/RESULTS.md
//	go run ./bench -smoke                  # every scenario ~1 s at low concurrency; exit 1 on any error (CI)
//	go run ./bench -bifrost ~/bin/bifrost-http -portkey   # also measure the peers (skipped when absent)
//
// Per row it reports throughput, latency percentiles, the server process's CPU time per request (utime+stime
// from /proc/<pid>/stat around the measured window, divided by the requests completed) and its peak RSS.
//
// Every process it starts is stopped when it exits, including on Ctrl-C or a panic.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	caddyPath   string
	duration    time.Duration
	concurrency []int
	rate        int
	openStreams int
	latency     time.Duration
	chunks      int
	burst       bool
	write       bool
	smoke       bool
	only        string
	results     string
	bifrost     string // bifrost-http binary ("" skips Bifrost)
	portkey     bool   // install and run Portkey's gateway
}

func parseFlags() (options, error) {
	var o options
	var conc string
	flag.StringVar(&o.caddyPath, "caddy", "", "Caddy binary with ai_gateway and ai_simulator (default: build ./cmd/caddy)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario and concurrency level")
	flag.StringVar(&conc, "c", "1,32,256", "closed-loop concurrency levels, comma-separated")
	flag.IntVar(&o.rate, "rate", 0, "also run an open loop at this many requests/s (0: off)")
	flag.IntVar(&o.openStreams, "streams", 1000, "concurrent open streams for the memory figures (0: off)")
	flag.DurationVar(&o.latency, "latency", 0, "simulated upstream latency before the response headers (e.g. 50ms)")
	flag.IntVar(&o.chunks, "chunks", 200, "content chunks per streamed answer")
	flag.BoolVar(&o.burst, "burst", false, "the simulator sends each stream at once (no flush between events), so that rows measure the relay's per-event work")
	flag.BoolVar(&o.write, "write", false, "write the table and machine description to -results")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "file written by -write")
	flag.BoolVar(&o.smoke, "smoke", false, "run every scenario ~1 s at low concurrency and exit non-zero on any error")
	flag.StringVar(&o.only, "only", "", "run only scenarios whose name contains this text (direct and reverse_proxy always run)")
	flag.StringVar(&o.bifrost, "bifrost", os.Getenv("AIGW_BENCH_BIFROST"),
		"bifrost-http binary built out of tree, measured as a peer (default $AIGW_BENCH_BIFROST; empty: skipped)")
	pk, _ := strconv.ParseBool(os.Getenv("AIGW_BENCH_PORTKEY"))
	flag.BoolVar(&o.portkey, "portkey", pk,
		"install Portkey's gateway with npm into a temporary directory and measure it as a peer (default $AIGW_BENCH_PORTKEY)")
	flag.Parse()
	for _, f := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return o, fmt.Errorf("-c: '%s' is not a concurrency from 1 to 4096", f)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if o.smoke {
		o.duration = time.Second
		o.concurrency = []int{2}
		o.openStreams = min(o.openStreams, 20)
		if o.rate > 0 {
			o.rate = 50
		}
	}
	if o.duration <= 0 || o.duration > 10*time.Minute {
		return o, fmt.Errorf("-duration must be between 1ns and 10m, got %v", o.duration)
	}
	if o.chunks < 1 || o.chunks > 8000 {
		return o, fmt.Errorf("-chunks must be between 1 and 8000, got %d", o.chunks)
	}
	if o.openStreams < 0 || o.openStreams > 10000 {
		return o, fmt.Errorf("-streams must be between 0 and 10000, got %d", o.openStreams)
	}
	return o, nil
}

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	procs := newProcessSet()
	code := func() (code int) {
		defer func() {
			if p := recover(); p != nil {
				procs.stopAll()
				panic(p)
			}
		}()
		defer procs.stopAll()
		if err := run(ctx, o, procs); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		return 0
	}()
	stop()
	os.Exit(code)
}

// run performs the whole benchmark and reports it.
func run(ctx context.Context, o options, procs *processSet) error {
	workDir, err := os.MkdirTemp("", "aigw-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(workDir)
	bin := o.caddyPath
	if bin == "" {
		logf("building Caddy from ./cmd/caddy")
		if bin, err = buildCaddy(ctx, workDir); err != nil {
			return err
		}
	}
	r := &runner{opts: o, bin: bin, dir: workDir, procs: procs}
	if err := r.startSimulator(ctx); err != nil {
		return err
	}
	rows, problems := r.runAll(ctx)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	table := renderTable(rows, o)
	fmt.Println(table)
	if o.write {
		if err := writeResults(o, table); err != nil {
			return err
		}
		logf("wrote %s", o.results)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "problem:", p)
		}
		if o.smoke {
			return fmt.Errorf("%d problem(s) in smoke run", len(problems))
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
