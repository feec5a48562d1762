package aigateway

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
)

// VirtualKeys are client keys issued, limited, rotated and revoked through the management API (…/keys,
// OpenRouter's provisioning-keys shape) and the console page while the gateway runs, beside the static
// client_keys.
type VirtualKeys struct {
	// Store says where keys, their usage and their limit counters live: memory (default; this process, kept
	// across config reloads) or redis (shared at once by every gateway using the same Redis and prefix), with
	// the connection options of rate_limit_store.
	Store *RateLimitStore `json:"store,omitempty"`
	// AdminKeys are the provisioning keys that may manage keys (and may not call models). Placeholders such
	// as {env.GATEWAY_ADMIN_KEYS} are resolved at load time; one value may hold several keys separated by
	// commas or spaces. Each must be at least 16 characters.
	AdminKeys []string `json:"admin_keys,omitempty"`
	// Console serves the management page at …/console/.
	Console bool `json:"console,omitempty"`
}

// keyStores pairs a key store with the counter store of the keys' limits.
type keyStores struct {
	keys     keys.Store
	counters ratelimit.Store
}

func (s keyStores) Destruct() error {
	err := s.keys.Destruct()
	if e := s.counters.Destruct(); err == nil {
		err = e
	}
	return err
}

// keyPools keeps virtual key stores across config reloads, keyed by where they keep their data.
var keyPools = caddy.NewUsagePool()

// provisionKeys builds the virtual key manager over stores kept across reloads; nil without virtual_keys.
func (h *Handler) provisionKeys(repl *caddy.Replacer, static []string) (*keys.Manager, error) {
	vk := h.VirtualKeys
	if vk == nil {
		return nil, nil
	}
	st := vk.Store
	if st == nil {
		st = &RateLimitStore{}
	}
	policy, err := ratelimit.ParseStoreErrorPolicy(orDefault(st.OnStoreError, "allow"))
	if err != nil {
		return nil, err
	}
	var key string
	var build func() (caddy.Destructor, error)
	switch st.Type {
	case "", "memory":
		key = "memory"
		build = func() (caddy.Destructor, error) {
			return keyStores{keys: keys.NewMemoryStore(), counters: ratelimit.NewMemoryStore()}, nil
		}
	case "redis":
		opts := redisOptions(st, repl)
		key = "redis|" + redisIdentity(opts)
		build = func() (caddy.Destructor, error) {
			ks, err := keys.NewRedisStore(opts)
			if err != nil {
				return nil, err
			}
			cs, err := ratelimit.NewRedisStore(opts)
			if err != nil {
				_ = ks.Destruct()
				return nil, err
			}
			return keyStores{keys: ks, counters: cs}, nil
		}
	default:
		return nil, fmt.Errorf("virtual_keys store: unknown type '%s': use memory or redis", st.Type)
	}
	val, _, err := keyPools.LoadOrNew(key, build)
	if err != nil {
		return nil, fmt.Errorf("virtual_keys store: %v", err)
	}
	h.keyPoolKey = key
	stores := val.(keyStores)
	var admins []string
	for _, k := range vk.AdminKeys {
		admins = append(admins, splitList(repl.ReplaceAll(k, ""))...)
	}
	if len(admins) == 0 {
		return nil, fmt.Errorf("virtual_keys: admin_keys resolved to no key: set admin_keys (e.g. {env.GATEWAY_ADMIN_KEYS}) and check that the environment variable is set")
	}
	m, err := keys.New(keys.Config{Store: stores.keys, Counters: stores.counters, OnStoreError: policy,
		AdminKeys: admins, StaticKeys: static, Console: vk.Console, Audit: h.audit})
	if err != nil {
		return nil, fmt.Errorf("virtual_keys: %v", err)
	}
	return m, nil
}

// redisOptions are the connection options of a store block, with placeholders in the password resolved.
func redisOptions(st *RateLimitStore, repl *caddy.Replacer) ratelimit.RedisOptions {
	return ratelimit.RedisOptions{Address: st.Address, Addresses: st.Addresses, Cluster: st.Cluster,
		MasterName: st.SentinelMaster, SentinelPassword: repl.ReplaceAll(st.SentinelPassword, ""),
		Username: st.Username, Password: repl.ReplaceAll(st.Password, ""), DB: st.DB, Prefix: st.Prefix}
}

// redisIdentity names where a Redis store keeps its data, for the pools (never its password).
func redisIdentity(o ratelimit.RedisOptions) string {
	return fmt.Sprintf("%s|%s|%t|%s|%s|%d|%s", o.Address, strings.Join(o.Addresses, ","), o.Cluster, o.MasterName,
		o.Username, o.DB, o.Prefix)
}

// audit logs one management action: who (the admin key's identity), what, which key; never a secret.
func (h *Handler) audit(a keys.Audit) {
	h.logger.Info("virtual key "+a.Action, zap.String("action", a.Action), zap.String("admin", a.Admin),
		zap.String("key_id", a.KeyID), zap.String("key_name", a.KeyName), zap.String("remote", a.Remote))
}
