package transform

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// maxTemplateSize bounds the event a chunkTemplate keeps, so a stream's memory stays constant.
const maxTemplateSize = 2 << 10

// chunkTemplate spares a stream's relay the full validating scan of events that repeat the shape of the last
// one scanned: the chunks of one answer differ from each other only inside string values (the text of a
// delta, an obfuscation pad), so an event that is byte for byte the template outside such strings, whose
// differing strings are valid, and whose keys are the same, is valid JSON of the same structure, and the
// template's member spans, shifted by how much each string grew or shrank, are its own.
//
// The template is an event without any backslash, so that its quotes are all real: inside or outside a
// string is then a matter of counting them.
type chunkTemplate struct {
	event []byte
	spans []span
}

// store makes event, which scanJSON accepted with the given member spans, the template, when it can be one.
func (t *chunkTemplate) store(event []byte, spans []span) {
	if len(event) > maxTemplateSize || bytes.IndexByte(event, '\\') >= 0 {
		return
	}
	t.event = append(t.event[:0], event...)
	t.spans = append(t.spans[:0], spans...)
}

// match reports whether cur has the template's shape, and if so sets spans (as long as the template's) to
// cur's member spans. It never accepts an event scanJSON would refuse, nor reports other spans than
// scanJSON's.
func (t *chunkTemplate) match(cur []byte, spans []span) bool {
	prev := t.event
	if len(prev) == 0 || len(spans) != len(t.spans) {
		return false
	}
	copy(spans, t.spans)
	i, j := 0, 0 // positions in prev and cur
	inString := false
	for {
		n := commonPrefix(prev[i:], cur[j:])
		if bytes.Count(prev[i:i+n], quote)%2 == 1 {
			inString = !inString
		}
		i, j = i+n, j+n
		if i == len(prev) && j == len(cur) {
			return true
		}
		if !inString || i == len(prev) || j == len(cur) {
			return false
		}
		// Both are inside the same string value: its rests must each end at a quote, cur's being valid.
		pe := i + bytes.IndexByte(prev[i:], '"')
		ce := stringEnd(cur, j) - 1
		if pe < i || ce < 0 || isKey(cur, ce+1) {
			return false
		}
		for k := range spans {
			if t.spans[k].start > pe {
				spans[k].start = t.spans[k].start + ce - pe
			}
			if t.spans[k].end > pe {
				spans[k].end = t.spans[k].end + ce - pe
			}
		}
		i, j = pe, ce
	}
}

var quote = []byte{'"'}

// isKey reports whether the string that closed before i is an object key.
func isKey(b []byte, i int) bool {
	i = skipSpace(b, i)
	return i < len(b) && b[i] == ':'
}

// commonPrefix returns the length of the longest common prefix of a and b, comparing eight bytes at a time.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}
