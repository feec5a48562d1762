package usage

import (
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// decodeUnicodeEscape decodes the XXXX of a \uXXXX escape at the start of s (and a following \uXXXX low
// surrogate), returning the rune and the rest of s. Malformed escapes give utf8.RuneError.
func decodeUnicodeEscape(s string) (rune, string) {
	r, ok := hex4(s)
	if !ok {
		return utf8.RuneError, s
	}
	s = s[4:]
	if utf16.IsSurrogate(r) {
		if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
			if r2, ok := hex4(s[2:]); ok {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					return dec, s[6:]
				}
			}
		}
		return utf8.RuneError, s
	}
	return r, s
}

func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			c = c | 0x20 - 'a' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unsafeBytes views s as bytes without copying; the bytes must not be modified.
func unsafeBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// unsafeString views b as a string without copying; b must not change while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
