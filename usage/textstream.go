package usage

import "unicode/utf8"

// pendingSize bounds the text a textStream holds back while it waits for a cut point. It is also the longest
// run without any cut after which the stream cuts anyway (see textStream.write).
const pendingSize = 256

// textStream counts one stream of text fragments (the content of one choice, say) exactly, holding back only
// the bytes after the last cut point, so its memory is constant whatever the stream's length.
type textStream struct {
	key     int // which choice or tool call this stream is counting; -1 when idle
	n       int
	scanned int // pending[:scanned] holds no cut point
	tokens  int
	forced  int // forced cuts, each of which may be off by about a token
	pending [pendingSize]byte
}

// write adds a fragment of text.
func (s *textStream) write(enc *encoder, p []byte) {
	for len(p) > 0 {
		if s.n == pendingSize {
			s.forceCut(enc)
		}
		k := copy(s.pending[s.n:], p)
		s.n += k
		p = p[k:]
		s.drain(enc)
	}
}

// writeByte adds one byte of text.
func (s *textStream) writeByte(enc *encoder, c byte) {
	if s.n == pendingSize {
		s.forceCut(enc)
	}
	s.pending[s.n] = c
	s.n++
}

// drain counts every segment that ends at a cut point and keeps the rest pending.
func (s *textStream) drain(enc *encoder) {
	b := s.pending[:s.n]
	start := 0
	for i := max(s.scanned, 1); i < len(b); i++ {
		if isCut(b, i) {
			s.tokens += enc.countSegment(b[start:i])
			start = i
		}
	}
	if start > 0 {
		s.n = copy(s.pending[:], b[start:])
	}
	// The last byte is scanned again next time: rule 1 of isCut needs the byte after it.
	s.scanned = max(s.n-1, 0)
}

// forceCut counts most of a full buffer that has no cut point (long runs of CJK text, base64, digits). The cut
// falls on a character boundary; counting the two sides apart can differ from counting them together by about
// one token, so a stream is exact as long as every pendingSize bytes contain at least one cut point.
func (s *textStream) forceCut(enc *encoder) {
	cut := s.n - 1
	for cut > 0 && !utf8.RuneStart(s.pending[cut]) {
		cut--
	}
	if cut == 0 {
		cut = s.n
	}
	s.forced++
	s.tokens += enc.countSegment(s.pending[:cut])
	s.n = copy(s.pending[:], s.pending[cut:s.n])
	s.scanned = 0
}

// flush counts what is pending: the text has ended (or another stream took over this one).
func (s *textStream) flush(enc *encoder) {
	s.drain(enc)
	s.tokens += enc.countSegment(s.pending[:s.n])
	s.n, s.scanned = 0, 0
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
		s.drain(enc)
	}
}
