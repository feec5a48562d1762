// Package keys manages the gateway's virtual keys: client keys issued, limited, rotated and revoked while the
// gateway runs, kept in a Store shared by every gateway that uses it (MemoryStore for one process, RedisStore
// for several). A key's secret ("sk-aigw-<id>_<random>") is shown once, when it is created or rotated; stores
// keep only its SHA-256 and its short public id. Each key may have allowed models, request and token rates and
// a USD budget per period, enforced by the ratelimit package's reserve-and-settle mechanism, an expiry, a
// disabled flag and free-form metadata; its usage is recorded per day and per budget period.
//
// Manager authenticates secrets for the gateway engine and serves the management API (OpenRouter's
// provisioning-keys shape) and the console page. The package has no Caddy dependency.
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"path"
	"strings"
	"time"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
)

// SecretPrefix starts every virtual key's secret.
const SecretPrefix = "sk-aigw-"

// idLen is the length of a public id: 12 base32 characters, 60 random bits.
const idLen = 12

// Key is one virtual key as a store keeps it. Its secret is not kept, only SecretHash.
type Key struct {
	// ID is the key's short public id: 12 characters of [a-z2-7], part of its secret.
	ID string `json:"id"`
	// Name is the operator's name for the key, shown in the console, answers and metrics.
	Name string `json:"name"`
	// SecretHash is the hex SHA-256 of the secret.
	SecretHash string `json:"secret_hash"`
	// Hint is the secret with its middle elided, "sk-aigw-<id>_…wxyz", so people can tell keys apart.
	Hint string `json:"hint"`
	// Models are globs such as openai/* matched against the "provider/model" a request would reach after
	// alias and route resolution; empty allows every model.
	Models []string `json:"models,omitempty"`
	// Requests caps requests per window, e.g. 60/1m.
	Requests ratelimit.Rate `json:"requests,omitzero"`
	// Tokens caps prompt plus completion tokens per window.
	Tokens ratelimit.Rate `json:"tokens,omitzero"`
	// Budget caps the spend in USD per calendar period (UTC).
	Budget ratelimit.Budget `json:"budget,omitzero"`
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Disabled keys are refused until enabled again.
	Disabled bool `json:"disabled,omitempty"`
	// Metadata is free-form text, e.g. team and owner.
	Metadata map[string]string `json:"metadata,omitempty"`
	// CreatedAt and UpdatedAt are when the key was created and last changed (a rotation counts).
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Status is active, disabled or expired at now.
func (k *Key) Status(now time.Time) string {
	switch {
	case k.Disabled:
		return "disabled"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// Limits returns the key's limits as a ratelimit rule, nil when it has none.
func (k *Key) Limits() *ratelimit.Rule {
	if k.Requests.IsZero() && k.Tokens.IsZero() && k.Budget.IsZero() {
		return nil
	}
	return &ratelimit.Rule{Name: k.RuleName(), Requests: k.Requests, Tokens: k.Tokens, Budget: k.Budget}
}

// RuleName names the key's limit counters and appears in refusals: "key <id>".
func (k *Key) RuleName() string { return "key " + k.ID }

// Allows reports whether the key may reach providerModel ("provider/model", after resolution).
func (k *Key) Allows(providerModel string) bool {
	if len(k.Models) == 0 {
		return true
	}
	for _, g := range k.Models {
		if ok, _ := path.Match(g, providerModel); ok {
			return true
		}
	}
	return false
}

// verifies reports, in constant time, whether secret is the key's.
func (k *Key) verifies(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(k.SecretHash)
	return err == nil && subtle.ConstantTimeCompare(sum[:], want) == 1
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a fresh public id.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return b32.EncodeToString(b[:])[:idLen]
}

// newSecret returns a fresh secret for id (256 random bits), its hex SHA-256 and its hint.
func newSecret(id string) (secret, hash, hint string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret = SecretPrefix + id + "_" + b32.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(sum[:]), SecretPrefix + id + "_…" + secret[len(secret)-4:]
}

// ParseSecret returns the public id in a secret of the virtual-key form, and whether it has that form.
func ParseSecret(secret string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return "", false
	}
	id, random, ok := strings.Cut(rest, "_")
	if !ok || !validID(id) || len(random) != 52 {
		return "", false
	}
	return id, true
}

// validID reports whether s has the form of a public id.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Usage is what a key used over some time.
type Usage struct {
	// Requests counts requests that reached an upstream.
	Requests int64 `json:"requests"`
	// PromptTokens and CompletionTokens are the tokens of those requests.
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// CostUSD is what they cost (models without a price cost 0).
	CostUSD float64 `json:"cost_usd"`
}

// add adds u to the usage.
func (a *Usage) add(u Usage) {
	a.Requests += u.Requests
	a.PromptTokens += u.PromptTokens
	a.CompletionTokens += u.CompletionTokens
	a.CostUSD += u.CostUSD
}

// ErrNotFound is returned for a key id no store has.
var ErrNotFound = errors.New("no virtual key has this id")

// day is the UTC date of t as yyyymmdd, the name of a daily usage bucket.
func day(t time.Time) string { return t.UTC().Format("20060102") }

// period is the usage period of a key at t: its budget's period, a calendar month when it has no budget.
func period(k *Key, t time.Time) (start, end time.Time) {
	p := k.Budget.Period
	if p == ratelimit.NoPeriod {
		p = ratelimit.Month
	}
	return p.Bounds(t)
}
