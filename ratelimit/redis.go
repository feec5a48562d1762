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
// Keys are <prefix>rl:<rule>:<hash of the key>:{r,t,b:<period start>} and expire once drained. All keys of a
// request are touched by one script, so Redis Cluster is not supported; use a single server or Sentinel.
type RedisStore struct {
	client *redis.Client
	prefix string
}

// NewRedisStore returns a store on the Redis server described by o. It does not connect yet; call Ping to
// check the server is reachable.
func NewRedisStore(o RedisOptions) (*RedisStore, error) {
	if o.Address == "" {
		o.Address = "127.0.0.1:6379"
	}
	if o.Prefix == "" {
		o.Prefix = "aigw:"
	}
	if o.DB < 0 {
		return nil, fmt.Errorf("redis db %d: must be 0 or more", o.DB)
	}
	c := redis.NewClient(&redis.Options{
		Addr:         o.Address,
		Username:     o.Username,
		Password:     o.Password,
		DB:           o.DB,
		TLSConfig:    o.TLS,
		DialTimeout:  orDefault(o.DialTimeout, time.Second),
		ReadTimeout:  orDefault(o.ReadTimeout, time.Second),
		WriteTimeout: orDefault(o.WriteTimeout, time.Second),
		PoolSize:     o.PoolSize,
		// A retried script could charge a request twice: a failure goes to OnStoreError instead.
		MaxRetries: -1,
		// One dial attempt: while Redis is down each request should fail fast, not wait for dial back-offs.
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	})
	return &RedisStore{client: c, prefix: o.Prefix}, nil
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
		buf = append(buf, "rl:"...)
		buf = append(buf, o.rule.name...)
		buf = append(buf, ':')
		buf = o.key.appendHex(buf)
		keys = append(keys, string(buf)+":r", string(buf)+":t",
			string(buf)+":b:"+strconv.FormatInt(o.periodStart/int64(time.Second), 10))
	}
	return keys
}

func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }

func (s *RedisStore) reserve(ctx context.Context, b *batch) (int, Kind, error) {
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
