package main

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// atClkTck is the auxiliary vector entry in which Linux passes sysconf(_SC_CLK_TCK) to every process.
const atClkTck = 17

// clockTicks returns the kernel's clock ticks per second, the unit of utime and stime in /proc/<pid>/stat.
// glibc's sysconf(_SC_CLK_TCK) reads it from the auxiliary vector; without cgo, so does this, from
// /proc/self/auxv. If that cannot be read, it is 100, the value on every Linux architecture Go supports.
var clockTicks = sync.OnceValue(func() int64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	for ; len(b) >= 16; b = b[16:] { // 64-bit little-endian pairs (amd64, arm64)
		if binary.LittleEndian.Uint64(b) == atClkTck {
			if v := int64(binary.LittleEndian.Uint64(b[8:])); v > 0 && v <= 10000 {
				return v
			}
			break
		}
	}
	return 100
})

// readCPU returns the CPU time (user + system) a process has used so far, from /proc/<pid>/stat, and false if
// it cannot be read. Its resolution is one clock tick (10 ms at 100 Hz).
func readCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may contain spaces; the fields after it start with state.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so utime (field 14) is f[11] and stime (field 15) f[12].
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration((ut + st) * int64(time.Second) / clockTicks()), true
}

// cpuMeter measures the CPU time a process uses between start and stop.
type cpuMeter struct {
	pid   int
	start time.Duration
	ok    bool
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	m.start, m.ok = readCPU(pid)
	return m
}

// stop returns the CPU time used since start, and false if it could not be measured.
func (m *cpuMeter) stop() (time.Duration, bool) {
	end, ok := readCPU(m.pid)
	if !ok || !m.ok {
		return 0, false
	}
	return end - m.start, true
}
