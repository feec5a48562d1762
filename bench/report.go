package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"
)

// row is one scenario in the table: its load runs and, for streams, the open-streams memory figures.
type row struct {
	name    string
	stream  bool
	direct  bool
	peer    string // the peer gateway's name, for a peer's rows
	skipped string
	cells   []*cell
	streams *openStreamsResult
}

// cell is one load run's summary.
type cell struct {
	label              string
	res                loadResult
	p50, p90, p99, ttf time.Duration
}

func newCell(label string, res loadResult) *cell {
	return &cell{label: label, res: res, p50: percentile(res.lat, .5), p90: percentile(res.lat, .9),
		p99: percentile(res.lat, .99), ttf: percentile(res.ttft, .5)}
}

func (r *row) cell(label string) *cell {
	if r == nil {
		return nil
	}
	for _, c := range r.cells {
		if c.label == label {
			return c
		}
	}
	return nil
}

func findRow(rows []*row, name string) *row {
	for _, r := range rows {
		if r.name == name && r.skipped == "" {
			return r
		}
	}
	return nil
}

// baselines returns the direct and reverse_proxy rows a row is compared with.
func baselines(rows []*row, stream bool) (direct, proxy *row) {
	if stream {
		return findRow(rows, rowDirectStream), findRow(rows, rowProxyStream)
	}
	return findRow(rows, rowDirect), findRow(rows, rowProxy)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// withRatio formats a figure and its ratio to the baseline's.
func withRatio(text string, v, base float64, haveBase bool) string {
	if !haveBase || base <= 0 || v < 0 || math.IsNaN(v/base) {
		return text // a ratio to a negative or zero figure (noise) means nothing
	}
	return fmt.Sprintf("%s (%.2fx)", text, v/base)
}

// burstNote says how the simulator sent streams.
func burstNote(burst bool) string {
	if burst {
		return ", sent at once (`-burst`: no flush between events)"
	}
	return ", each event flushed as it is written"
}

// renderTable returns the markdown table and the targets check below it.
func renderTable(rows []*row, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Each figure is followed by its ratio to the reverse_proxy baseline at the same load "+
		"(non-streamed rows: `reverse_proxy`; streamed rows: `reverse_proxy` with `flush_interval -1`). "+
		"Added = scenario minus direct to simulator, same load. Streams carry %d content chunks%s. "+
		"Closed loop, %v measured per load after a warm-up. CPU/req = CPU time (user + system, from "+
		"/proc/<pid>/stat) of the server process over the measured window, divided by the requests completed "+
		"(direct rows: the simulator's; one clock tick is %v); peak RSS of the same process.\n\n",
		o.chunks, burstNote(o.burst), o.duration, time.Second/time.Duration(clockTicks()))
	b.WriteString("| Scenario | Load | req/s | p50 | p90 | p99 | CPU/req | added p50 | added p99 | TTFT p50 | added TTFT p50 | errors | peak RSS |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | | | | | | | | |\n", r.name, strings.ReplaceAll(r.skipped, "|", "/"))
			continue
		}
		dr, pr := baselines(rows, r.stream)
		for _, c := range r.cells {
			d, p := dr.cell(c.label), pr.cell(c.label)
			cols := []string{r.name, c.label}
			cols = append(cols, withRatio(fmt.Sprintf("%.0f", c.res.rps()), c.res.rps(), rpsOf(p), p != nil))
			cols = append(cols, durCol(c.p50, p, func(x *cell) time.Duration { return x.p50 }))
			cols = append(cols, durCol(c.p90, p, func(x *cell) time.Duration { return x.p90 }))
			cols = append(cols, durCol(c.p99, p, func(x *cell) time.Duration { return x.p99 }))
			cols = append(cols, cpuCol(c, p))
			cols = append(cols, addedCol(c, d, p, func(x *cell) time.Duration { return x.p50 }, r.direct))
			cols = append(cols, addedCol(c, d, p, func(x *cell) time.Duration { return x.p99 }, r.direct))
			if r.stream {
				cols = append(cols, durCol(c.ttf, p, func(x *cell) time.Duration { return x.ttf }))
				cols = append(cols, addedCol(c, d, p, func(x *cell) time.Duration { return x.ttf }, r.direct))
			} else {
				cols = append(cols, "", "")
			}
			cols = append(cols, fmt.Sprintf("%d", c.res.errors))
			rss := ""
			if c.res.peakRSS > 0 {
				rss = mib(c.res.peakRSS)
				if p != nil && !r.direct {
					rss = withRatio(rss, float64(c.res.peakRSS), float64(p.res.peakRSS), true)
				}
			}
			cols = append(cols, rss)
			b.WriteString("| " + strings.Join(cols, " | ") + " |\n")
		}
		if s := r.streams; s != nil {
			var ps *openStreamsResult
			if pr != nil {
				ps = pr.streams
			}
			rss := withRatio(mib(s.rss), float64(s.rss), ratioBase(ps, func(x *openStreamsResult) int64 { return x.rss }), ps != nil)
			if s.measuredHeap {
				rss += "; heap+stacks " + withRatio(fmt.Sprintf("%.1f KiB/stream", float64(s.heapPerConn)/1024),
					float64(s.heapPerConn), ratioBase(ps, func(x *openStreamsResult) int64 { return x.heapPerConn }), ps != nil)
			}
			fmt.Fprintf(&b, "| %s | %d open streams | | | | | | | | | | %d | %s |\n", r.name, s.open+s.errors, s.errors, rss)
		}
	}
	b.WriteString("\n")
	b.WriteString(peerTables(rows))
	b.WriteString(checkTargets(rows, o))
	return b.String()
}

// cpuCol formats the server process's CPU time per request and its ratio to the baseline cell's.
func cpuCol(c, p *cell) string {
	v, ok := c.res.cpuPerRequest()
	if !ok {
		return ""
	}
	text := fmt.Sprintf("%.0f µs", float64(v)/1e3)
	if p == nil {
		return text
	}
	base, ok := p.res.cpuPerRequest()
	return withRatio(text, float64(v), float64(base), ok)
}

// peerTables returns, for each peer that was measured, a table of the reverse_proxy, ai_gateway openai and
// peer rows with every figure as a ratio to the peer's at the same load.
func peerTables(rows []*row) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, pr := range rows {
		if pr.peer == "" || pr.skipped != "" || seen[pr.peer] {
			continue
		}
		seen[pr.peer] = true
		fmt.Fprintf(&b, "Against %s: each figure followed by its ratio to %s's at the same load.\n\n", pr.peer, pr.peer)
		b.WriteString("| Scenario | Load | req/s | p50 | p99 | CPU/req | peak RSS |\n|---|---|---|---|---|---|---|\n")
		for _, stream := range []bool{false, true} {
			var base *row
			for _, r := range rows {
				if r.peer == pr.peer && r.stream == stream && r.skipped == "" {
					base = r
				}
			}
			if base == nil {
				continue
			}
			list := []*row{findRow(rows, rowProxy), findRow(rows, "ai_gateway openai")}
			if stream {
				list = []*row{findRow(rows, rowProxyStream), findRow(rows, "ai_gateway openai, stream")}
			}
			for _, r := range rows {
				if r.peer != "" && r.stream == stream && r.skipped == "" {
					list = append(list, r)
				}
			}
			for _, r := range list {
				if r == nil {
					continue
				}
				for _, c := range r.cells {
					p := base.cell(c.label)
					if p == nil {
						continue
					}
					rss := ""
					if c.res.peakRSS > 0 {
						rss = withRatio(mib(c.res.peakRSS), float64(c.res.peakRSS), float64(p.res.peakRSS), true)
					}
					fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.name, c.label,
						withRatio(fmt.Sprintf("%.0f", c.res.rps()), c.res.rps(), p.res.rps(), true),
						durCol(c.p50, p, func(x *cell) time.Duration { return x.p50 }),
						durCol(c.p99, p, func(x *cell) time.Duration { return x.p99 }),
						cpuCol(c, p), rss)
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func rpsOf(c *cell) float64 {
	if c == nil {
		return 0
	}
	return c.res.rps()
}

func ratioBase(s *openStreamsResult, f func(*openStreamsResult) int64) float64 {
	if s == nil {
		return 0
	}
	return float64(f(s))
}

func durCol(v time.Duration, p *cell, f func(*cell) time.Duration) string {
	if p == nil {
		return ms(v)
	}
	return withRatio(ms(v), float64(v), float64(f(p)), true)
}

func addedCol(c, d, p *cell, f func(*cell) time.Duration, isDirect bool) string {
	if isDirect || d == nil {
		return ""
	}
	added := f(c) - f(d)
	if p == nil {
		return ms(added)
	}
	return withRatio(ms(added), float64(added), float64(f(p)-f(d)), true)
}

// checkTargets compares the ai_gateway openai rows with the project's targets (issue 3).
func checkTargets(rows []*row, o options) string {
	var b strings.Builder
	b.WriteString("Targets (issue 3), ai_gateway OpenAI passthrough:\n\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	gw, gws := findRow(rows, "ai_gateway openai"), findRow(rows, "ai_gateway openai, stream")
	dr, pr := baselines(rows, false)
	drs, prs := baselines(rows, true)
	c32, c1 := nearestLabel(o.concurrency, 32), nearestLabel(o.concurrency, 1)
	if g, p := gw.cell(c32), pr.cell(c32); g != nil && p != nil {
		ratio := g.res.rps() / p.res.rps()
		fmt.Fprintf(&b, "- Throughput at %s, non-streaming: %.0f req/s vs reverse_proxy %.0f = %.2fx (target >= 1.5x): %s\n",
			c32, g.res.rps(), p.res.rps(), ratio, verdict(ratio >= 1.5))
	}
	if g, p, d := gw.cell(c1), pr.cell(c1), dr.cell(c1); g != nil && p != nil && d != nil {
		ga, pa := g.p50-d.p50, p.p50-d.p50
		fmt.Fprintf(&b, "- Added p50 latency at %s, non-streaming: %s vs reverse_proxy %s = %.2fx (target <= 0.9x): %s\n",
			c1, ms(ga), ms(pa), float64(ga)/float64(pa), verdict(float64(ga) <= 0.9*float64(pa)))
	}
	if g, d := gws.cell(c32), drs.cell(c32); g != nil && d != nil {
		a := g.ttf - d.ttf
		fmt.Fprintf(&b, "- Added time to first token at %s, streaming: %s (target < 1 ms): %s\n", c32, ms(a), verdict(a < time.Millisecond))
	}
	if g, p, d := gws.cell(c1), prs.cell(c1), drs.cell(c1); g != nil && p != nil && d != nil {
		ga, pa := (g.p50-d.p50)/time.Duration(o.chunks), (p.p50-d.p50)/time.Duration(o.chunks)
		ratio := "n/a (reverse_proxy added nothing measurable)"
		if pa > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(ga)/float64(pa))
		}
		fmt.Fprintf(&b, "- Relay cost per chunk at %s (added p50 / %d chunks): %.1f µs vs reverse_proxy %.1f µs = %s (target <= 1.5x): %s\n",
			c1, o.chunks, float64(ga)/1e3, float64(pa)/1e3, ratio, verdict(float64(ga) <= 1.5*float64(max(pa, 0))))
	}
	if gws != nil && gws.streams != nil {
		s := gws.streams
		fmt.Fprintf(&b, "- RSS of the Caddy process with %d concurrent open streams: %s (target < 150 MB): %s\n",
			s.open, mib(s.rss), verdict(s.errors == 0 && s.rss < 150e6))
	}
	if gw != nil && pr != nil {
		g, p := maxRPS(gw), maxRPS(pr)
		fmt.Fprintf(&b, "- Throughput at saturation (best load), non-streaming: %.0f vs reverse_proxy %.0f req/s = %.2fx\n", g, p, g/p)
	}
	return b.String()
}

func maxRPS(r *row) float64 {
	best := 0.0
	for _, c := range r.cells {
		best = max(best, c.res.rps())
	}
	return best
}

// nearestLabel returns the label of the concurrency level closest to want.
func nearestLabel(levels []int, want int) string {
	best := levels[0]
	for _, l := range levels {
		if abs(l-want) < abs(best-want) {
			best = l
		}
	}
	return fmt.Sprintf("c=%d", best)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// notesMarker separates the generated part of RESULTS.md from hand-written notes, which -write keeps.
const notesMarker = "<!-- notes below this line are kept when the table is regenerated -->"

// writeResults writes the table and a description of the machine to o.results, keeping the notes section.
func writeResults(o options, table string) error {
	notes := notesMarker + "\n"
	if old, err := os.ReadFile(o.results); err == nil {
		if i := strings.Index(string(old), notesMarker); i >= 0 {
			notes = string(old[i:])
		}
	}
	var b strings.Builder
	b.WriteString("# Benchmark results\n\n")
	fmt.Fprintf(&b, "Generated by `go run ./bench %s` on %s.\n\n", strings.Join(os.Args[1:], " "), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), Linux %s, %s. Load generator, simulator and Caddy under test share "+
		"these CPUs on loopback, so absolute numbers are low and noisy; the ratios measured in the same run are "+
		"what to read.\n\n", runtime.NumCPU(), cpuModel(), strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")), runtime.Version())
	b.WriteString(table)
	b.WriteString("\n")
	b.WriteString(notes)
	return os.WriteFile(o.results, []byte(b.String()), 0o644)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func cpuModel() string {
	for _, l := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
