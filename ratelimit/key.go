package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
)

// keyHash identifies the counters of one rule for one key: the first 128 bits of SHA-256 over the rule name,
// a zero byte and the expanded key. Stores keep only this, never the key itself, so an API key used as a limit
// key appears neither in memory maps nor in Redis.
type keyHash [16]byte

// hashKey computes the keyHash without allocating for keys up to a few hundred bytes.
func hashKey(rule, key string) keyHash {
	var buf [512]byte
	b := append(buf[:0], rule...)
	b = append(b, 0)
	b = append(b, key...)
	sum := sha256.Sum256(b)
	var h keyHash
	copy(h[:], sum[:len(h)])
	return h
}

// appendHex appends the hash as 32 lowercase hex digits.
func (h keyHash) appendHex(dst []byte) []byte {
	return hex.AppendEncode(dst, h[:])
}
