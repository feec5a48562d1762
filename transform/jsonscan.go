package transform

import (
	"encoding/binary"
	"math/bits"

	"github.com/tidwall/gjson"
)

// scanJSON validates b as one JSON value nested at most MaxJSONDepth levels deep, in a single pass with
// constant memory and no recursion. When b is an object and member is not nil, member is called with each
// top-level member's key (raw, without its quotes) and the offsets of its value in b, so a caller that needs
// a few top-level fields gets them from the same pass. It returns nil, errJSONTooDeep or errJSONInvalid; b
// both invalid and too deep is errJSONTooDeep.
func scanJSON(b []byte, member func(key []byte, start, end int)) error {
	err := scan(b, member)
	if err == errJSONInvalid && !depthWithin(b, MaxJSONDepth) {
		return errJSONTooDeep
	}
	return err
}

// unescapeKey returns a key that holds an escape as JSON parsers read it: "mod\u0065l" is the key model.
func unescapeKey(raw []byte) []byte {
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	return []byte(gjson.ParseBytes(quoted).Str)
}

// scan is scanJSON without the depth check of invalid input: it stops at the first error.
func scan(b []byte, member func(key []byte, start, end int)) error {
	var (
		stack      [MaxJSONDepth/64 + 1]uint64 // bit d set: the container at depth d+1 is an object
		depth      int
		key        []byte // the top-level member whose value is being read
		keyEscaped bool
		valStart   int
	)
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return errJSONInvalid
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == MaxJSONDepth {
				return errJSONTooDeep
			}
			word, bit := depth/64, uint64(1)<<(depth%64)
			if c == '{' {
				stack[word] |= bit
			} else {
				stack[word] &^= bit
			}
			depth++
			if i = skipSpace(b, i+1); i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
				depth--
				i++
				break // an empty container is a whole value
			}
			if c == '[' {
				continue
			}
			k, esc, next, err := scanKey(b, i)
			if err != nil {
				return err
			}
			if i = next; depth == 1 {
				key, keyEscaped, valStart = k, esc, i
			}
			continue
		case '"':
			if i = stringEnd(b, i+1); i < 0 {
				return errJSONInvalid
			}
		case 't':
			if i = literal(b, i, "true"); i < 0 {
				return errJSONInvalid
			}
		case 'f':
			if i = literal(b, i, "false"); i < 0 {
				return errJSONInvalid
			}
		case 'n':
			if i = literal(b, i, "null"); i < 0 {
				return errJSONInvalid
			}
		default:
			if i = numberEnd(b, i); i < 0 {
				return errJSONInvalid
			}
		}
		// A value ended at i: close the containers it completes, up to the next value.
		for {
			if depth == 1 && member != nil && key != nil {
				if keyEscaped {
					key = unescapeKey(key)
				}
				member(key, valStart, i)
				key = nil
			}
			i = skipSpace(b, i)
			if depth == 0 {
				if i != len(b) {
					return errJSONInvalid
				}
				return nil
			}
			if i >= len(b) {
				return errJSONInvalid
			}
			object := stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				if object {
					k, esc, next, err := scanKey(b, i)
					if err != nil {
						return err
					}
					if i = next; depth == 1 {
						key, keyEscaped, valStart = k, esc, i
					}
				}
				break
			}
			if object && b[i] == '}' || !object && b[i] == ']' {
				depth--
				i++
				continue
			}
			return errJSONInvalid
		}
	}
}

// scanKey reads an object member's key and colon at i, and returns the key's raw bytes, whether it holds an
// escape, and where its value starts.
func scanKey(b []byte, i int) ([]byte, bool, int, error) {
	if i >= len(b) || b[i] != '"' {
		return nil, false, 0, errJSONInvalid
	}
	end, escaped := stringEndEscaped(b, i+1)
	if end < 0 {
		return nil, false, 0, errJSONInvalid
	}
	key := b[i+1 : end-1]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, false, 0, errJSONInvalid
	}
	return key, escaped, skipSpace(b, i+1), nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// literal returns the index after the literal lit at i, or -1.
func literal(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// numberEnd returns the index after the JSON number at i, or -1.
func numberEnd(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digitsEnd(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i = digitsEnd(b, i+1); i < 0 {
			return -1
		}
		if b[i-1] == '.' {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = digitsEnd(b, i); i == start {
			return -1
		}
	}
	return i
}

func digitsEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Word-at-a-time byte tests (SWAR): every byte of a uint64 set to one value, and the high bit of each byte.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// stringEnd returns the index after the closing quote of the string whose contents start at i, or -1 when
// the string is unterminated, holds a control character or a bad escape. It reads eight bytes at a time
// until one of them is a quote, a backslash or a control character.
func stringEnd(b []byte, i int) int {
	end, _ := stringEndEscaped(b, i)
	return end
}

// stringEndEscaped is stringEnd, also reporting whether the string holds an escape sequence.
func stringEndEscaped(b []byte, i int) (int, bool) {
	escaped := false
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, s := x^(swarOnes*'"'), x^(swarOnes*'\\')
			m := ((x - swarOnes*0x20) &^ x) | ((q - swarOnes) &^ q) | ((s - swarOnes) &^ s)
			if m &= swarHigh; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return -1, false
		}
		switch b[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			if i+1 >= len(b) {
				return -1, false
			}
			escaped = true
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1, false
				}
				i += 6
			default:
				return -1, false
			}
		default:
			return -1, false // a control character
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
