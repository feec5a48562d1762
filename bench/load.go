package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds that keep every load loop finite whatever the flags say.
const (
	maxSamplesPerRun = 2_000_000
	maxInFlightOpen  = 4096
	requestTimeout   = 60 * time.Second
	streamWaitLimit  = 30 * time.Second
)

// target is what the load generator sends: one POST, the same body every time.
type target struct {
	url     string
	body    []byte
	stream  bool
	headers map[string]string // sent with every request, after the defaults
}

// loadResult is what one load run measured. Latencies count from when the request was due (open loop) or sent
// (closed loop) to the last byte of the answer; ttft to its first body byte.
type loadResult struct {
	requests int
	errors   int
	firstErr string
	elapsed  time.Duration
	lat      []time.Duration
	ttft     []time.Duration
	peakRSS  int64
	cpu      time.Duration // CPU time (user + system) of the server process while the measured requests ran
	cpuOK    bool
}

// cpuPerRequest returns the server process's CPU time per completed request, and false if unknown.
func (r *loadResult) cpuPerRequest() (time.Duration, bool) {
	if !r.cpuOK || r.requests == 0 {
		return 0, false
	}
	return r.cpu / time.Duration(r.requests), true
}

func (r *loadResult) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: conns + 16,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
			WriteBufferSize:     16 << 10,
			ReadBufferSize:      32 << 10,
		},
	}
}

var (
	doneMarker = []byte("data: [DONE]\n\n")
	choicesKey = []byte(`"choices"`)
)

// worker sends requests and checks their answers, reusing its buffers.
type worker struct {
	client *http.Client
	t      target
	buf    []byte
	body   bytes.Buffer
	tail   []byte
}

func newWorker(c *http.Client, t target) *worker {
	return &worker{client: c, t: t, buf: make([]byte, 32<<10), tail: make([]byte, 0, 64)}
}

// do sends one request and returns its latency and time to first body byte, both measured from start.
func (w *worker) do(ctx context.Context, start time.Time) (lat, ttft time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.t.url, bytes.NewReader(w.t.body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer bench-client-key")
	for k, v := range w.t.headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	w.body.Reset()
	w.tail = w.tail[:0]
	for {
		n, rerr := resp.Body.Read(w.buf)
		if n > 0 {
			if ttft == 0 {
				ttft = time.Since(start)
			}
			if w.t.stream && resp.StatusCode == http.StatusOK {
				w.tail = append(w.tail, w.buf[:n]...)
				if len(w.tail) > 32 {
					w.tail = append(w.tail[:0], w.tail[len(w.tail)-32:]...)
				}
			} else if w.body.Len() < 1<<20 {
				w.body.Write(w.buf[:n])
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, 0, rerr
		}
	}
	lat = time.Since(start)
	switch {
	case resp.StatusCode != http.StatusOK:
		b := w.body.Bytes()
		return 0, 0, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	case w.t.stream && !bytes.HasSuffix(w.tail, doneMarker):
		return 0, 0, errors.New("stream ended without data: [DONE]")
	case !w.t.stream && !bytes.Contains(w.body.Bytes(), choicesKey):
		return 0, 0, fmt.Errorf("answer has no choices: %.200s", w.body.Bytes())
	}
	return lat, ttft, nil
}

// recorder collects samples from many goroutines.
type recorder struct {
	mu      sync.Mutex
	res     loadResult
	measure time.Time
	full    atomic.Bool
}

func (r *recorder) add(start time.Time, lat, ttft time.Duration, err error) {
	if start.Before(r.measure) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.res.errors == 0 {
			r.res.firstErr = err.Error()
		}
		r.res.errors++
		return
	}
	r.res.requests++
	r.res.lat = append(r.res.lat, lat)
	if ttft > 0 {
		r.res.ttft = append(r.res.ttft, ttft)
	}
	if len(r.res.lat) >= maxSamplesPerRun {
		r.full.Store(true)
	}
}

// closedLoop runs conc workers back to back: warm-up first (not measured), then dur measured.
func closedLoop(ctx context.Context, t target, conc int, warm, dur time.Duration, pid int) loadResult {
	client := newClient(conc)
	defer client.CloseIdleConnections()
	now := time.Now()
	rec := &recorder{measure: now.Add(warm)}
	end := rec.measure.Add(dur)
	ctx, cancel := context.WithDeadline(ctx, end.Add(requestTimeout))
	defer cancel()
	rss := sampleRSS(pid)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(client, t)
			for ctx.Err() == nil && !rec.full.Load() {
				start := time.Now()
				if !start.Before(end) {
					return
				}
				lat, ttft, err := w.do(ctx, start)
				rec.add(start, lat, ttft, err)
			}
		}()
	}
	// CPU is read when the measured window opens and after the last measured request has ended, so that it
	// covers the requests counted (those started in the window) and little else.
	time.Sleep(time.Until(rec.measure))
	cpu := startCPU(pid)
	wg.Wait()
	rec.res.elapsed = time.Since(rec.measure)
	rec.res.cpu, rec.res.cpuOK = cpu.stop()
	rec.res.peakRSS = rss.stop()
	return rec.res
}

// openLoop sends requests at a fixed rate whatever the answers' latency, measuring each from when it was due,
// so that a slow server cannot hide its queueing (no coordinated omission).
func openLoop(ctx context.Context, t target, rate int, dur time.Duration, pid int) loadResult {
	client := newClient(256)
	defer client.CloseIdleConnections()
	start := time.Now()
	rec := &recorder{measure: start}
	ctx, cancel := context.WithDeadline(ctx, start.Add(dur+requestTimeout))
	defer cancel()
	rss := sampleRSS(pid)
	cpu := startCPU(pid)
	workers := sync.Pool{New: func() any { return newWorker(client, t) }}
	var wg sync.WaitGroup
	var inFlight atomic.Int64
	interval := time.Second / time.Duration(rate)
	for i := 0; ctx.Err() == nil && !rec.full.Load(); i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.After(start.Add(dur)) {
			break
		}
		time.Sleep(time.Until(due))
		if inFlight.Load() >= maxInFlightOpen {
			rec.add(due, 0, 0, fmt.Errorf("more than %d requests in flight: the server cannot keep up with %d/s", maxInFlightOpen, rate))
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			w := workers.Get().(*worker)
			lat, ttft, err := w.do(ctx, due)
			workers.Put(w)
			rec.add(due, lat, ttft, err)
		}()
	}
	wg.Wait()
	rec.res.elapsed = time.Since(start)
	rec.res.cpu, rec.res.cpuOK = cpu.stop()
	rec.res.peakRSS = rss.stop()
	return rec.res
}

// openStreamsResult is the memory a process needs to hold many streams open at once.
type openStreamsResult struct {
	open         int
	rss          int64
	idleRSS      int64
	heapPerConn  int64 // heap in use + goroutine stacks, per stream
	errors       int
	firstErr     string
	measuredHeap bool
}

// holdStreams opens n streams to t, waits until each has received its first event, then measures the
// process's RSS and (through its admin endpoint, after a GC) heap and stacks, and closes them all.
func holdStreams(ctx context.Context, t target, n int, p *caddyProcess) openStreamsResult {
	var out openStreamsResult
	heapBefore, okBefore := liveHeap(ctx, p)
	out.idleRSS = readRSS(p.pid())
	client := newClient(n)
	defer client.CloseIdleConnections()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started = make(chan struct{}, n)
	)
	fail := func(err error) {
		mu.Lock()
		if out.errors == 0 {
			out.firstErr = err.Error()
		}
		out.errors++
		mu.Unlock()
		started <- struct{}{}
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(sctx, http.MethodPost, t.url, bytes.NewReader(t.body))
			if err != nil {
				fail(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range t.headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				fail(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Errorf("status %d", resp.StatusCode))
				return
			}
			buf := make([]byte, 4<<10)
			if _, err := resp.Body.Read(buf); err != nil && !errors.Is(err, io.EOF) {
				fail(err)
				return
			}
			started <- struct{}{}
			_, _ = io.CopyBuffer(io.Discard, resp.Body, buf)
		}()
	}
	timeout := time.After(streamWaitLimit)
wait:
	for i := 0; i < n; i++ {
		select {
		case <-started:
		case <-timeout:
			mu.Lock()
			out.errors += n - i
			if out.firstErr == "" {
				out.firstErr = fmt.Sprintf("%d streams had no first event after %v", n-i, streamWaitLimit)
			}
			mu.Unlock()
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	time.Sleep(300 * time.Millisecond)
	out.open = n - out.errors
	out.rss = readRSS(p.pid())
	if heapAfter, ok := liveHeap(ctx, p); ok && okBefore && out.open > 0 {
		out.heapPerConn = (heapAfter - heapBefore) / int64(out.open)
		out.measuredHeap = true
	}
	cancel()
	wg.Wait()
	return out
}
