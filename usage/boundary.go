package usage

import (
	"unicode"
	"unicode/utf8"
)

// isCut reports whether b can be cut before index i (0 < i < len(b)) without changing the token count: i is
// a boundary of the split regexp shared by o200k_base and cl100k_base, so BPE never merges across it. The
// rules, each derived from those regexps (tiktoken's pat_str):
//   - a space followed by an ASCII letter always starts a new pre-token (" word"), so cut before the space;
//   - a space or tab after a non-whitespace character ends the pre-token before it;
//   - an ASCII letter followed by an ASCII character that is neither a letter nor an apostrophe ends a word
//     (apostrophes are excluded because o200k_base keeps contractions such as "'s" with the word);
//   - a newline followed by an ASCII letter ends the newline's pre-token.
//
// Whether position i is a cut depends on b[i+1] for the first rule only; callers that do not yet know b[i+1]
// just miss that cut, which costs nothing but a longer segment.
func isCut(b []byte, i int) bool {
	c, prev := b[i], b[i-1]
	if c == ' ' && i+1 < len(b) && isASCIILetter(b[i+1]) {
		return true
	}
	if (c == ' ' || c == '\t') && !endsWithSpace(b[:i]) {
		return true
	}
	if isASCIILetter(prev) && c < utf8.RuneSelf && !isASCIILetter(c) && c != '\'' {
		return true
	}
	return prev == '\n' && isASCIILetter(c)
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// endsWithSpace reports whether b's last character is whitespace in the regexps' sense (\s, Unicode aware).
func endsWithSpace(b []byte) bool {
	last := b[len(b)-1]
	if last < utf8.RuneSelf {
		return last == ' ' || (last >= '\t' && last <= '\r')
	}
	r, _ := utf8.DecodeLastRune(b)
	return r == utf8.RuneError || unicode.IsSpace(r)
}
