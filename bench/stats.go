package main

import (
	"bufio"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// percentile returns the q-quantile (0..1) of samples, sorting them in place.
func percentile(samples []time.Duration, q float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	if !slices.IsSorted(samples) {
		slices.Sort(samples)
	}
	i := int(q*float64(len(samples)-1) + 0.5)
	return samples[min(i, len(samples)-1)]
}

// readRSS returns the resident set size of a process in bytes, from /proc, or 0 if it cannot be read.
func readRSS(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// rssSampler records the peak RSS of a process while a load run lasts.
type rssSampler struct {
	stopc chan struct{}
	peak  chan int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), peak: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if pid > 0 {
				peak = max(peak, readRSS(pid))
			}
			select {
			case <-s.stopc:
				s.peak <- peak
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() int64 {
	close(s.stopc)
	return <-s.peak
}

// liveHeap forces a garbage collection in p (the heap profile endpoint's gc=1) and returns the bytes of heap
// in use plus goroutine stacks, from the admin endpoint's expvar memstats.
func liveHeap(ctx context.Context, p *caddyProcess) (int64, bool) {
	if _, err := adminGet(ctx, p, "/debug/pprof/heap?gc=1"); err != nil {
		return 0, false
	}
	b, err := adminGet(ctx, p, "/debug/vars")
	if err != nil {
		return 0, false
	}
	ms := gjson.GetBytes(b, "memstats")
	if !ms.Exists() {
		return 0, false
	}
	return ms.Get("HeapInuse").Int() + ms.Get("StackInuse").Int(), true
}
