package usage

import "unicode/utf8"

// pendingSize is the longest run of text without any cut point after which a textStream cuts anyway (see
// textStream.forceCut).
const pendingSize = 256

// deferSize bounds the chunks' choices a StreamCounter queues before it reads them (about 400 chunks of one
// choice), and deferTextSize the text a textStream holds before it tokenizes it (about 2,000 tokens of
// English). What fits is only counted if Completion asks, which a stream whose upstream reports its usage
// never does; beyond, a full buffer is counted (text up to its last cut point) to make room.
const (
	deferSize     = 32 << 10
	deferTextSize = 8 << 10
)

// textStream counts one stream of text fragments (the content of one choice, say) exactly, holding back at
// most deferTextSize bytes, so its memory is constant whatever the stream's length. Counting is deferred:
// bytes are only tokenized when the buffer is full, or when flush asks for the count.
type textStream struct {
	key     int // which choice or tool call this stream is counting; -1 when idle
	scanned int // pending[:scanned] holds no cut point
	tokens  int
	forced  int    // forced cuts, each of which may be off by about a token
	pending []byte // grows up to deferTextSize; its backing array is kept across streams by the counter pool
}

// write adds a fragment of text.
func (s *textStream) write(enc *encoder, p []byte) {
	for len(p) > 0 {
		if len(s.pending) == deferTextSize {
			s.makeRoom(enc)
		}
		k := min(len(p), deferTextSize-len(s.pending))
		s.pending = append(s.pending, p[:k]...)
		p = p[k:]
	}
}

// writeByte adds one byte of text.
func (s *textStream) writeByte(enc *encoder, c byte) {
	if len(s.pending) == deferTextSize {
		s.makeRoom(enc)
	}
	s.pending = append(s.pending, c)
}

// makeRoom counts the full buffer up to its last cut point, and cuts anyway when what is left has grown to
// pendingSize bytes without one.
func (s *textStream) makeRoom(enc *encoder) {
	s.drain(enc)
	if len(s.pending) >= pendingSize {
		s.forceCut(enc)
	}
}

// drain counts every segment that ends at a cut point and keeps the rest pending.
func (s *textStream) drain(enc *encoder) {
	b := s.pending
	start := 0
	for i := max(s.scanned, 1); i < len(b); i++ {
		if isCut(b, i) {
			s.tokens += enc.countSegment(b[start:i])
			start = i
		}
	}
	if start > 0 {
		s.pending = b[:copy(b, b[start:])]
	}
	// The last byte is scanned again next time: rule 1 of isCut needs the byte after it.
	s.scanned = max(len(s.pending)-1, 0)
}

// forceCut counts most of a buffer that has no cut point (long runs of CJK text, base64, digits). The cut
// falls on a character boundary; counting the two sides apart can differ from counting them together by about
// one token, so a stream is exact as long as every pendingSize bytes contain at least one cut point.
func (s *textStream) forceCut(enc *encoder) {
	b := s.pending
	cut := len(b) - 1
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	if cut == 0 {
		cut = len(b)
	}
	s.forced++
	s.tokens += enc.countSegment(b[:cut])
	s.pending = b[:copy(b, b[cut:])]
	s.scanned = 0
}

// flush counts what is pending: the text has ended (or another stream took over this one).
func (s *textStream) flush(enc *encoder) {
	s.drain(enc)
	s.tokens += enc.countSegment(s.pending)
	s.pending, s.scanned = s.pending[:0], 0
}

// reset empties the stream for another use, keeping its buffer.
func (s *textStream) reset() {
	*s = textStream{key: -1, pending: s.pending[:0]}
}

// switchTo flushes the stream when it starts counting a different key.
func (s *textStream) switchTo(enc *encoder, key int) {
	if s.key != key {
		s.flush(enc)
		s.key = key
	}
}

// writeJSONString adds the text of raw, a JSON string literal with its quotes, unescaping it on the way.
// Invalid escapes are copied as they are; nothing here can fail.
func (s *textStream) writeJSONString(enc *encoder, raw string) {
	if len(raw) < 2 || raw[0] != '"' {
		return
	}
	raw = raw[1 : len(raw)-1]
	for len(raw) > 0 {
		i := 0
		for i < len(raw) && raw[i] != '\\' {
			i++
		}
		if i > 0 {
			s.write(enc, unsafeBytes(raw[:i]))
			raw = raw[i:]
			continue
		}
		if len(raw) < 2 {
			s.writeByte(enc, raw[0])
			break
		}
		esc := raw[1]
		raw = raw[2:]
		switch esc {
		case 'n':
			s.writeByte(enc, '\n')
		case 't':
			s.writeByte(enc, '\t')
		case 'r':
			s.writeByte(enc, '\r')
		case 'b':
			s.writeByte(enc, '\b')
		case 'f':
			s.writeByte(enc, '\f')
		case 'u':
			r, rest := decodeUnicodeEscape(raw)
			raw = rest
			var buf [utf8.UTFMax]byte
			s.write(enc, buf[:utf8.EncodeRune(buf[:], r)])
			continue
		default: // '"', '\\', '/' and anything invalid
			s.writeByte(enc, esc)
		}
	}
}
