package transform

import (
	"bytes"
	"io"
	"sync"
)

const (
	// smallReadSize is what a stream reads into while its upstream trickles (a model writing tokens).
	smallReadSize = 4 << 10
	// BurstBufferSize is the size of the buffers Buffers lends: what a stream reads into while its upstream
	// sends faster than smallReadSize per read, like reverse_proxy's 32 KiB copy buffer.
	BurstBufferSize = 32 << 10
)

// Buffers lends BurstBufferSize byte slices to the streams of one gateway (read buffers of bursts, the
// events queued for one write to the client). The zero value is ready to use and safe for concurrent use.
type Buffers struct{ pool sync.Pool }

// Get returns an empty slice with a capacity of BurstBufferSize.
func (p *Buffers) Get() []byte {
	if p != nil {
		if b, ok := p.pool.Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, BurstBufferSize)
}

// Put gives b back for a later Get; a slice of another capacity (grown past it, or not from Get) is left to
// the garbage collector.
func (p *Buffers) Put(b []byte) {
	if p == nil || cap(b) != BurstBufferSize {
		return
	}
	b = b[:0]
	p.pool.Put(&b)
}

// streamBuffer is the read buffer of one upstream stream: smallReadSize bytes of its own, and while the
// upstream fills them in one read (a burst: events that arrived together), a BurstBufferSize buffer lent by
// Buffers, given back as soon as it is drained. A stream then reads a burst in as few reads as
// reverse_proxy does, and an idle one holds only its small buffer.
type streamBuffer struct {
	src     io.Reader
	lender  *Buffers
	small   []byte
	buf     []byte // small, or the lent buffer
	r, w    int    // buf[r:w] is read but not yet consumed
	err     error  // the error that ended the reads, returned once buf[r:w] is consumed
	lentOut bool
}

func newStreamBuffer(src io.Reader, lender *Buffers) *streamBuffer {
	small := make([]byte, smallReadSize)
	return &streamBuffer{src: src, lender: lender, small: small, buf: small}
}

// buffered returns the bytes read but not consumed; they stay valid until the next readSlice.
func (b *streamBuffer) buffered() []byte { return b.buf[b.r:b.w] }

// readSlice returns the bytes up to and including the next delim, as bufio.Reader.ReadSlice does: without
// delim, what is buffered with bufferFull when the buffer is full, or with the read error at the end. The
// slice is valid until the next call.
func (b *streamBuffer) readSlice(delim byte) (line []byte, bufferFull bool, err error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(b.buf[b.r+scanned:b.w], delim); i >= 0 {
			line = b.buf[b.r : b.r+scanned+i+1]
			b.r += scanned + i + 1
			return line, false, nil
		}
		scanned = b.w - b.r
		if b.err != nil {
			line = b.buf[b.r:b.w]
			b.r = b.w
			return line, false, b.err
		}
		if b.r == 0 && b.w == len(b.buf) {
			line = b.buf
			b.r, b.w = 0, 0
			return line, true, nil
		}
		b.fill()
	}
}

// fill reads once from the source after what is buffered, first moving that to the start of the buffer.
func (b *streamBuffer) fill() {
	if b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if b.w == 0 {
		b.release()
	}
	n, err := b.src.Read(b.buf[b.w:])
	for empty := 1; n == 0 && err == nil; empty++ {
		if empty == 100 {
			err = io.ErrNoProgress
			break
		}
		n, err = b.src.Read(b.buf[b.w:])
	}
	full := b.w+n == len(b.buf)
	b.w += n
	b.err = err
	if full && err == nil && !b.lentOut && b.lender != nil {
		big := b.lender.Get()[:BurstBufferSize]
		b.w = copy(big, b.buf[:b.w])
		b.buf, b.lentOut = big, true
	}
}

// release gives the lent buffer back once nothing in it is left to consume.
func (b *streamBuffer) release() {
	if b.lentOut && b.r == b.w {
		b.lender.Put(b.buf)
		b.buf, b.lentOut, b.r, b.w = b.small, false, 0, 0
	}
}

// close gives the lent buffer back, whatever it holds.
func (b *streamBuffer) close() {
	if b.lentOut {
		b.lender.Put(b.buf)
		b.buf, b.lentOut = b.small, false
	}
	b.r, b.w = 0, 0
}
