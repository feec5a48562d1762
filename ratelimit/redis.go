package ratelimit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a RedisStore. Only Address is usually needed.
type RedisOptions struct {
	// Address is host:port of the Redis server; default 127.0.0.1:6379.
	Address string
	// Addresses are more servers: the seed nodes of a Redis Cluster (with Cluster), or the Sentinels (with
	// MasterName). Address, when set, is the first of them.
	Addresses []string
	// Cluster connects to a Redis Cluster through the seed nodes in Address and Addresses.
	Cluster bool
	// MasterName connects through Redis Sentinel: the Sentinels in Address and Addresses are asked for the
	// current master of this name.
	MasterName string
	// SentinelPassword authenticates to the Sentinels, when they require it.
	SentinelPassword string
	// Username is the ACL user; empty for the default user.
	Username string
	// Password authenticates the user (or the server's requirepass when Username is empty).
	Password string
	// DB is the database number.
	DB int
	// Prefix starts every key the store writes; default "aigw:". Gateways that share limits use the same
	// prefix.
	Prefix string
	// TLS, when set, connects with TLS.
	TLS *tls.Config
	// DialTimeout bounds connecting; default 1s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for each reply; default 1s. A request waits at most about this long for its
	// limit check before OnStoreError applies.
	ReadTimeout time.Duration
	// WriteTimeout bounds sending each command; default 1s.
	WriteTimeout time.Duration
	// PoolSize is the number of connections; default go-redis's (10 per CPU).
	PoolSize int
}

// RedisOptionsFromURL parses redis://[user:password@]host:port/db (or rediss:// for TLS). Its error never
// quotes the URL, which may hold a password.
func RedisOptionsFromURL(rawURL string) (RedisOptions, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message quotes the whole URL
		}
		return RedisOptions{}, fmt.Errorf("redis URL: %w", err)
	}
	return RedisOptions{Address: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLS: o.TLSConfig}, nil
}

// RedisStore keeps counters in Redis so that several gateways enforce one combined limit. Each Reserve is one
// round trip running one Lua script that checks and charges all of a request's claims atomically (EVALSHA,
// falling back to EVAL when Redis does not have the script cached); Settle and Cancel are one more each.
// Keys are <prefix>rl:{<hash of the rule and key>}:{r,t,b:<period start>} and expire once drained.
//
// On a Redis Cluster the three keys of one claim share a hash slot (the braces are a hash tag), and each
// claim is checked and charged by a script of its own, one after another: when a later claim is refused, the
// earlier ones are given back. Every limit still holds exactly (each check-and-charge is atomic); a request
// refused by a later claim may, for the instant before the give-back, make a concurrent one see the earlier
// counters fuller than they end up.
type RedisStore struct {
	client  redis.UniversalClient
	prefix  string
	cluster bool
}

// NewRedisClient returns a client for o: a Redis Cluster client with o.Cluster, a Sentinel-backed client with
// o.MasterName, else a client of one server. It does not connect yet. Commands are never retried (a retried
// script could charge twice) and dial once, so that an outage fails requests fast.
func NewRedisClient(o RedisOptions) (redis.UniversalClient, error) {
	addrs := o.Addresses
	if o.Address != "" || len(addrs) == 0 {
		addrs = append([]string{orString(o.Address, "127.0.0.1:6379")}, addrs...)
	}
	if o.DB < 0 {
		return nil, fmt.Errorf("redis db %d: must be 0 or more", o.DB)
	}
	if o.Cluster && o.DB != 0 {
		return nil, fmt.Errorf("redis db %d: a Redis Cluster has only database 0", o.DB)
	}
	if o.Cluster && o.MasterName != "" {
		return nil, errors.New("redis: choose Cluster or Sentinel (a master name), not both")
	}
	if !o.Cluster && o.MasterName == "" && len(addrs) > 1 {
		return nil, errors.New("redis: several addresses need cluster (seed nodes) or a Sentinel master name")
	}
	uo := &redis.UniversalOptions{
		Addrs:            addrs,
		Username:         o.Username,
		Password:         o.Password,
		SentinelPassword: o.SentinelPassword,
		MasterName:       o.MasterName,
		IsClusterMode:    o.Cluster,
		DB:               o.DB,
		TLSConfig:        o.TLS,
		DialTimeout:      orDefault(o.DialTimeout, time.Second),
		ReadTimeout:      orDefault(o.ReadTimeout, time.Second),
		WriteTimeout:     orDefault(o.WriteTimeout, time.Second),
		PoolSize:         o.PoolSize,
		// A retried script could charge a request twice: a failure goes to OnStoreError instead.
		MaxRetries: -1,
		// A cluster's MOVED and ASK answers are followed (the script ran nowhere); nothing else is retried.
		MaxRedirects: 3,
		// One dial attempt: while Redis is down each request should fail fast, not wait for dial back-offs.
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	}
	return redis.NewUniversalClient(uo), nil
}

// NewRedisStore returns a store on the Redis server described by o. It does not connect yet; call Ping to
// check the server is reachable.
func NewRedisStore(o RedisOptions) (*RedisStore, error) {
	c, err := NewRedisClient(o)
	if err != nil {
		return nil, err
	}
	return &RedisStore{client: c, prefix: orString(o.Prefix, "aigw:"), cluster: o.Cluster}, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Ping checks that the Redis server answers.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis rate limit store: %w", err)
	}
	return nil
}

// Destruct closes the connections. It implements caddy.Destructor.
func (s *RedisStore) Destruct() error { return s.client.Close() }

// keys returns the three keys of each op: requests bucket, tokens bucket, budget counter of the op's period.
func (s *RedisStore) keys(b *batch) []string {
	keys := make([]string, 0, 3*b.n)
	buf := make([]byte, 0, 128)
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		buf = append(buf[:0], s.prefix...)
		buf = append(buf, "rl:{"...)
		buf = o.key.appendHex(buf)
		buf = append(buf, '}')
		keys = append(keys, string(buf)+":r", string(buf)+":t",
			string(buf)+":b:"+strconv.FormatInt(o.periodStart/int64(time.Second), 10))
	}
	return keys
}

func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }

func (s *RedisStore) reserve(ctx context.Context, b *batch) (int, Kind, error) {
	if s.cluster && b.n > 1 {
		return s.reserveEach(ctx, b)
	}
	return s.reserveAll(ctx, b)
}

// reserveEach reserves claim after claim, each in its own slot; when one is refused, the ones before it are
// given back.
func (s *RedisStore) reserveEach(ctx context.Context, b *batch) (int, Kind, error) {
	for i := 0; i < b.n; i++ {
		one := batch{now: b.now, n: 1}
		one.inline[0] = *b.at(i)
		denied, kind, err := s.reserveAll(ctx, &one)
		*b.at(i) = one.inline[0]
		if err == nil && kind == 0 {
			continue
		}
		if gerr := s.giveBack(ctx, b, i); err == nil {
			err = gerr
		}
		if err != nil {
			return 0, 0, err
		}
		return i + denied, kind, nil
	}
	return 0, 0, nil
}

// giveBack cancels the first n claims of b, reserved by reserveEach.
func (s *RedisStore) giveBack(ctx context.Context, b *batch, n int) error {
	for j := 0; j < n; j++ {
		one := batch{now: b.now, n: 1}
		one.inline[0] = *b.at(j)
		o := &one.inline[0]
		o.reqDelta, o.tokDelta, o.spendDelta = -1, -float64(o.tokens), -o.spend
		if err := s.adjustAll(context.WithoutCancel(ctx), &one); err != nil {
			return err
		}
	}
	return nil
}

// reserveAll checks and charges every claim of b in one script.
func (s *RedisStore) reserveAll(ctx context.Context, b *batch) (int, Kind, error) {
	args := make([]any, 0, 1+8*b.n)
	args = append(args, b.now/int64(time.Microsecond))
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		rl := o.rule
		var ttl int64 // read only when spend is reserved (a 0 is not boxed on the heap)
		if o.spend > 0 {
			ttl = budgetTTL(b, o)
		}
		args = append(args, rl.req.Limit, micros(rl.req.Window), rl.tok.Limit, micros(rl.tok.Window), o.tokens, rl.budgetNano,
			o.spend, ttl)
	}
	res, err := reserveScript.Run(ctx, s.client, s.keys(b), args...).Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(res) != 3+3*b.n {
		return 0, 0, fmt.Errorf("reserve script returned %d values, want %d: is another version of the gateway using prefix %q?", len(res), 3+3*b.n, s.prefix)
	}
	allowed, _ := res[0].(int64)
	denied, _ := res[1].(int64)
	kind, _ := res[2].(int64)
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		if o.reqLevel, err = parseLevel(res[3+3*i]); err != nil {
			return 0, 0, err
		}
		if o.tokLevel, err = parseLevel(res[4+3*i]); err != nil {
			return 0, 0, err
		}
		o.spent, _ = res[5+3*i].(int64)
	}
	if allowed == 1 {
		return 0, 0, nil
	}
	if denied < 1 || int(denied) > b.n || kind < int64(KindRequests) || kind > int64(KindBudget) {
		return 0, 0, fmt.Errorf("reserve script refused claim %d with kind %d: out of range", denied, kind)
	}
	return int(denied) - 1, Kind(kind), nil
}

func parseLevel(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errors.New("reserve script returned a level that is not a string")
	}
	return strconv.ParseFloat(s, 64)
}

func (s *RedisStore) adjust(ctx context.Context, b *batch) error {
	if !s.cluster || b.n == 1 {
		return s.adjustAll(ctx, b)
	}
	var first error
	for i := 0; i < b.n; i++ {
		one := batch{now: b.now, n: 1}
		one.inline[0] = *b.at(i)
		if err := s.adjustAll(ctx, &one); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// adjustAll applies the deltas of every claim of b in one script.
func (s *RedisStore) adjustAll(ctx context.Context, b *batch) error {
	args := make([]any, 0, 1+8*b.n)
	args = append(args, b.now/int64(time.Microsecond))
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		rl := o.rule
		var ttl int64
		if o.spendDelta != 0 {
			ttl = budgetTTL(b, o)
		}
		args = append(args, rl.req.Limit, micros(rl.req.Window), o.reqDelta,
			rl.tok.Limit, micros(rl.tok.Window), o.tokDelta, o.spendDelta, ttl)
	}
	return adjustScript.Run(ctx, s.client, s.keys(b), args...).Err()
}

// budgetTTL is how long the op's budget counter is kept, in ms: until an hour after its period ends (0: the
// rule has no budget).
func budgetTTL(b *batch, o *op) int64 {
	if o.rule.budgetNano == 0 {
		return 0
	}
	return (o.periodEnd-b.now)/int64(time.Millisecond) + int64(time.Hour/time.Millisecond)
}
