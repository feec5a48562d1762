package keys

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
)

// Config configures a Manager.
type Config struct {
	// Store keeps the keys and their usage.
	Store Store
	// Counters keeps the keys' limit counters (ratelimit.NewMemoryStore, or ratelimit.NewRedisStore over the
	// same Redis as Store so that limits are shared by every gateway).
	Counters ratelimit.Store
	// OnStoreError says what happens to a request when the counters' store fails.
	OnStoreError ratelimit.StoreErrorPolicy
	// AdminKeys are the provisioning keys: they may manage keys and may not call models.
	AdminKeys []string
	// StaticKeys are the handler's static client keys: refused by the management API with 403 rather than 401.
	StaticKeys []string
	// Console serves the management page under …/console/.
	Console bool
	// Audit is told about every management action that changed something; nil: none.
	Audit func(Audit)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Audit describes one management action. It never holds a secret.
type Audit struct {
	// Action is create, update, rotate or delete.
	Action string
	// Admin is the identity of the admin key used: "admin-" and 16 hex digits of a salted SHA-256.
	Admin string
	// KeyID and KeyName identify the key acted on.
	KeyID, KeyName string
	// Remote is the client's address.
	Remote string
}

// Manager authenticates virtual keys, enforces their limits through its Limiter and serves the management API
// and console. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	limiter *ratelimit.Limiter
	admins  [][sha256.Size]byte
	statics [][sha256.Size]byte
	now     func() time.Time
}

// New builds a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Counters == nil {
		return nil, errors.New("virtual keys need a key store and a counter store")
	}
	if len(cfg.AdminKeys) == 0 {
		return nil, errors.New("virtual keys need at least one admin key to manage them: set admin_keys")
	}
	m := &Manager{cfg: cfg, now: cfg.Now}
	if m.now == nil {
		m.now = time.Now
	}
	var err error
	m.limiter, err = ratelimit.New(cfg.Counters, nil, ratelimit.Options{OnStoreError: cfg.OnStoreError, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	for _, k := range cfg.AdminKeys {
		if len(k) < 16 {
			return nil, errors.New("an admin key is shorter than 16 characters: use long random keys")
		}
		if strings.HasPrefix(k, SecretPrefix) {
			return nil, errors.New("an admin key starts with " + SecretPrefix + ", the prefix of virtual keys: choose another")
		}
		m.admins = append(m.admins, sha256.Sum256([]byte(k)))
	}
	for _, k := range cfg.StaticKeys {
		m.statics = append(m.statics, sha256.Sum256([]byte(k)))
	}
	return m, nil
}

// Limiter charges the keys' limits; its counters are Config.Counters.
func (m *Manager) Limiter() *ratelimit.Limiter { return m.limiter }

// Store returns the key store.
func (m *Manager) Store() Store { return m.cfg.Store }

// IsAdmin reports whether secret is an admin key.
func (m *Manager) IsAdmin(secret string) bool { return matchAny(m.admins, secret) }

func matchAny(hashes [][sha256.Size]byte, secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	match := 0
	for i := range hashes {
		match |= subtle.ConstantTimeCompare(sum[:], hashes[i][:])
	}
	return match == 1
}

// adminID is the identity of an admin key in audit lines.
func adminID(secret string) string {
	sum := sha256.Sum256([]byte("caddy-ai-gateway admin key\x00" + secret))
	return "admin-" + hex.EncodeToString(sum[:8])
}

// AuthError is why a secret was refused: its Status (401, 403 or 503), an OpenAI error Code and a Message
// for the client. It never quotes the secret.
type AuthError struct {
	Status  int
	Code    string
	Message string
}

func (e *AuthError) Error() string { return e.Message }

// Authenticate returns the active key whose secret this is. A refusal is an *AuthError.
func (m *Manager) Authenticate(ctx context.Context, secret string) (*Key, error) {
	id, ok := ParseSecret(secret)
	if !ok {
		return nil, &AuthError{Status: http.StatusUnauthorized, Code: "invalid_api_key", Message: "incorrect API key provided"}
	}
	k, err := m.cfg.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && !k.verifies(secret) {
		return nil, &AuthError{Status: http.StatusUnauthorized, Code: "invalid_api_key",
			Message: "incorrect API key provided: it was revoked, rotated or never issued"}
	}
	if err != nil {
		return nil, &AuthError{Status: http.StatusServiceUnavailable, Code: "key_store_unavailable",
			Message: "the virtual key store is unavailable; retry shortly"}
	}
	switch k.Status(m.now()) {
	case "disabled":
		return nil, &AuthError{Status: http.StatusForbidden, Code: "key_disabled",
			Message: "this API key is disabled: ask the gateway's administrator to enable it"}
	case "expired":
		return nil, &AuthError{Status: http.StatusUnauthorized, Code: "key_expired",
			Message: "this API key expired at " + k.ExpiresAt.UTC().Format(time.RFC3339)}
	}
	return k, nil
}

// Claim returns the rate-limit claim of k's limits; ok is false when it has none.
func (m *Manager) Claim(k *Key) (c ratelimit.Claim, ok bool) {
	lim := k.Limits()
	if lim == nil {
		return c, false
	}
	return ratelimit.Claim{Rule: lim.Name, Limits: lim}, true
}

// Record adds one finished request's usage to k's.
func (m *Manager) Record(ctx context.Context, k *Key, u Usage) error {
	now := m.now()
	start, _ := period(k, now)
	return m.cfg.Store.AddUsage(context.WithoutCancel(ctx), k.ID, now, start, u)
}

// audit reports a management action.
func (m *Manager) audit(a Audit) {
	if m.cfg.Audit != nil {
		m.cfg.Audit(a)
	}
}
