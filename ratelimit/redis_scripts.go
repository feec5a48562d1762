package ratelimit

import "github.com/redis/go-redis/v9"

// The scripts use three keys per claim: the requests bucket, the tokens bucket and the budget counter of the
// current period. A bucket is a hash {l = level, t = last update in µs}; its arithmetic is bucket's. Numbers
// go in and out as strings formatted with %.17g so no precision is lost to Redis's integer replies.

// reserveScript checks every claim and, when all fit, charges them all: a request, the tokens, and the
// worst-case spend reserved against the budget counter (given back or corrected by adjustScript).
//
//	ARGV[1] now (µs), then per claim: req limit, req window (µs), tok limit, tok window (µs), tokens,
//	budget (nano-USD), spend to reserve (nano-USD), budget counter TTL (ms, 0: no budget)
//
// It returns {allowed (1|0), denied claim (1-based), denied kind, then per claim req level, tok level,
// spend (settled and reserved, nano-USD, an integer)}.
var reserveScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local n = #KEYS / 3
local function level(key, limit, window)
  local v = redis.call('HMGET', key, 'l', 't')
  local l = tonumber(v[1]) or 0
  local t = tonumber(v[2]) or now
  if l > 0 and now > t then
    l = l - (now - t) * limit / window
    if l < 0 then l = 0 end
  end
  return l, t
end
local function save(key, l, t, limit, window)
  if l <= 0 then
    redis.call('DEL', key)
    return
  end
  if now > t then t = now end
  redis.call('HSET', key, 'l', string.format('%.17g', l), 't', string.format('%.17g', t))
  redis.call('PEXPIRE', key, math.ceil(l * window / limit / 1000) + 1000)
end
local denied, kind = 0, 0
local st = {}
local out = {}
for i = 1, n do
  local a = 1 + (i - 1) * 8
  local rl, rw = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local tl, tw = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local tokens, budget = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local spend = tonumber(ARGV[a + 7])
  local s = {rl = rl, rw = rw, tl = tl, tw = tw, r = 0, rt = now, t = 0, tt = now, b = budget, sp = spend, spent = 0,
    ttl = ARGV[a + 8]}
  if rl > 0 then
    s.r, s.rt = level(KEYS[3 * i - 2], rl, rw)
    if kind == 0 and s.r + 1 > rl then denied, kind = i, 1 end
  end
  if tl > 0 then
    s.t, s.tt = level(KEYS[3 * i - 1], tl, tw)
    if kind == 0 and s.t + tokens > tl then denied, kind = i, 2 end
  end
  if budget > 0 then
    s.spent = tonumber(redis.call('GET', KEYS[3 * i]) or '0')
    if kind == 0 and (s.spent >= budget or s.spent + spend > budget) then denied, kind = i, 3 end
  end
  if rl > 0 then s.r = s.r + 1 end
  if tl > 0 then s.t = s.t + tokens end
  st[i] = s
end
if kind ~= 0 then
  for i = 1, n do
    local s = st[i]
    if s.rl > 0 then s.r = s.r - 1 end
    if s.tl > 0 then s.t = s.t - tonumber(ARGV[1 + (i - 1) * 8 + 5]) end
  end
end
for i = 1, n do
  local s = st[i]
  if kind == 0 then
    if s.rl > 0 then save(KEYS[3 * i - 2], s.r, s.rt, s.rl, s.rw) end
    if s.tl > 0 then save(KEYS[3 * i - 1], s.t, s.tt, s.tl, s.tw) end
    if s.b > 0 and s.sp > 0 then
      s.spent = redis.call('INCRBY', KEYS[3 * i], s.sp)
      redis.call('PEXPIRE', KEYS[3 * i], s.ttl)
    end
  end
  out[#out + 1] = string.format('%.17g', s.r)
  out[#out + 1] = string.format('%.17g', s.t)
  out[#out + 1] = s.spent
end
local allowed = 1
if kind ~= 0 then allowed = 0 end
return {allowed, denied, kind, unpack(out)}
`)

// adjustScript adds deltas to the buckets and to the budget counters (a negative spend delta gives back
// what a reservation did not use; a counter never goes below 0).
//
//	ARGV[1] now (µs), then per claim: req limit, req window (µs), req delta, tok limit, tok window (µs),
//	tok delta, spend delta (nano-USD), budget counter TTL (ms, 0: no budget)
var adjustScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local n = #KEYS / 3
local function add(key, limit, window, delta)
  local v = redis.call('HMGET', key, 'l', 't')
  local l = tonumber(v[1]) or 0
  local t = tonumber(v[2]) or now
  if l > 0 and now > t then
    l = l - (now - t) * limit / window
    if l < 0 then l = 0 end
  end
  l = l + delta
  if l <= 0 then
    redis.call('DEL', key)
    return
  end
  if now > t then t = now end
  redis.call('HSET', key, 'l', string.format('%.17g', l), 't', string.format('%.17g', t))
  redis.call('PEXPIRE', key, math.ceil(l * window / limit / 1000) + 1000)
end
for i = 1, n do
  local a = 1 + (i - 1) * 8
  local rl, rw, rd = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local tl, tw, td = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local sd, ttl = tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8])
  if rl > 0 and rd ~= 0 then add(KEYS[3 * i - 2], rl, rw, rd) end
  if tl > 0 and td ~= 0 then add(KEYS[3 * i - 1], tl, tw, td) end
  if ttl > 0 and sd ~= 0 then
    if redis.call('INCRBY', KEYS[3 * i], ARGV[a + 7]) < 0 then redis.call('SET', KEYS[3 * i], 0) end
    redis.call('PEXPIRE', KEYS[3 * i], ttl)
  end
end
return 1
`)
