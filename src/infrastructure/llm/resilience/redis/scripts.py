"""The Lua scripts that make each shared-state operation one atomic step in Redis.

Every script reads the clock from `redis.call('TIME')`, so all times stored come from one
clock, the server's, whatever the replicas' clocks say. Times and durations go in and out as
strings (`%.6f`): Redis turns Lua numbers in replies into integers.

Records (see `keys.py` for where each lives):
  breaker   hash  s (0 closed, 1 open, 2 half-open), f (consecutive failures), o (opened at),
                  p (probes out), r (recovery time, for operators); absent = closed, no failures
  cooldown  string: the time the instance may take calls again (expires then)
  slots     sorted set: one member a lease, scored by its expiry
  rpm       sorted set: one member an admission, scored by its time, then moved to the time
                  its call was answered; members older than the 60-second window are trimmed
                  by the next admit (expires 61 s after the last)
  health    hash  h (1 healthy, 0 not), f (consecutive failures), since
"""

from __future__ import annotations

_PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function fmt(x) return string.format('%.6f', x) end
local function read_breaker(key)
  local b = redis.call('HMGET', key, 's', 'f', 'o', 'p')
  return tonumber(b[1]) or 0, tonumber(b[2]) or 0, tonumber(b[3]) or 0, tonumber(b[4]) or 0
end
local function write_breaker(key, s, f, o, p, recovery)
  if s == 0 and f == 0 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 's', s, 'f', f, 'o', fmt(o), 'p', p, 'r', recovery)
  end
end
"""

ADMIT = (
    _PRELUDE
    + """
-- KEYS: cooldown, breaker[, slots, rpm]
-- ARGV: half_open_requests, recovery_time, concurrency (0: none), rpm (0: none), member (of
--       the slot's lease and of the rpm admission: unique), lease_time[, n, then n pairs of
--       an rpm admission of this process and the time its call was answered (moved there
--       first, if still in the set), then members this process released since (given back
--       first)]
-- Reply: {0, slot, probe, clean, admitted at ('' without an rpm admission)} or
--        {reason (1 cooling down, 2 open, 3 full), wait}
if #ARGV > 6 then
  local moved = tonumber(ARGV[7])
  if moved > 0 then
    for i = 8, 7 + 2 * moved, 2 do redis.call('ZADD', KEYS[4], 'XX', ARGV[i + 1], ARGV[i]) end
    redis.call('PEXPIRE', KEYS[4], 61000)
  end
  if #ARGV > 7 + 2 * moved then redis.call('ZREM', KEYS[3], unpack(ARGV, 8 + 2 * moved)) end
end
local cooling = tonumber(redis.call('GET', KEYS[1]))
if cooling and cooling > now then return {1, fmt(cooling - now)} end
local s, f, o, p = read_breaker(KEYS[2])
local clean = (s == 0 and f == 0) and 1 or 0
local probe = 0
if s ~= 0 then
  local recovery = tonumber(ARGV[2])
  if s == 2 and p < tonumber(ARGV[1]) then
    p = p + 1
  elseif now - o >= recovery then
    s, o, p = 2, now, 1
  elseif s == 1 then
    return {2, fmt(o + recovery - now)}
  else
    return {2, '0'}
  end
  probe = 1
end
local concurrency = tonumber(ARGV[3])
if concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', fmt(now))
  if redis.call('ZCARD', KEYS[3]) >= concurrency then return {3, '0'} end
end
local rpm = tonumber(ARGV[4])
local admitted = ''
if rpm > 0 then
  -- at most rpm admissions in the trailing 60 s (limits.RPM_WINDOW); a refusal waits until
  -- the oldest leaves the window
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', fmt(now - 60))
  if redis.call('ZCARD', KEYS[4]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    return {3, fmt(tonumber(oldest[2]) + 60 - now)}
  end
  redis.call('ZADD', KEYS[4], fmt(now), ARGV[5])
  redis.call('PEXPIRE', KEYS[4], 61000)
  admitted = fmt(now)
end
local slot = 0
if concurrency > 0 then
  local lease_time = tonumber(ARGV[6])
  redis.call('ZADD', KEYS[3], fmt(now + lease_time), ARGV[5])
  redis.call('PEXPIRE', KEYS[3], math.ceil(lease_time * 1000) + 1000)
  slot = 1
end
if probe == 1 then write_breaker(KEYS[2], s, f, o, p, ARGV[2]) end
return {0, slot, probe, clean, admitted}
"""
)

SETTLE = (
    _PRELUDE
    + """
-- KEYS: breaker, cooldown[, slots]
-- ARGV: S (success) | F (failure) | R (probe released), failure_threshold, recovery_time,
--       cooldown seconds, lease member to give back ('' none)
-- Reply: {state before, state after}
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[3], ARGV[5]) end
local s, f, o, p = read_breaker(KEYS[1])
local ns, nf, no, np = s, f, o, p
local op = ARGV[1]
if op == 'F' then
  if s == 2 then
    ns, nf, no, np = 1, f + 1, now, 0
  elseif s == 0 then
    nf = f + 1
    if nf >= tonumber(ARGV[2]) then ns, no = 1, now end
  end
  local cooldown = tonumber(ARGV[4])
  if cooldown > 0 then
    local cooling = tonumber(redis.call('GET', KEYS[2])) or 0
    if now + cooldown > cooling then
      redis.call('SET', KEYS[2], fmt(now + cooldown), 'PX', math.ceil(cooldown * 1000))
    end
  end
elseif op == 'R' then
  if s == 2 and p > 0 then np = p - 1 end
elseif s ~= 1 then
  ns, nf, no, np = 0, 0, 0, 0
end
if ns ~= s or nf ~= f or no ~= o or np ~= p then write_breaker(KEYS[1], ns, nf, no, np, ARGV[3]) end
return {s, ns}
"""
)

RENEW = (
    _PRELUDE
    + """
-- KEYS: the slots set of each lease; ARGV: lease_time, then each lease's member.
-- Leases already purged stay out (XX): their slots were given to others.
local expiry = fmt(now + tonumber(ARGV[1]))
local ttl = math.ceil(tonumber(ARGV[1]) * 1000) + 1000
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expiry, ARGV[i + 1])
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS
"""
)

IN_FLIGHT = (
    _PRELUDE
    + """
-- KEYS: slots; ARGV: members this process released since (given back first)
if #ARGV > 0 then redis.call('ZREM', KEYS[1], unpack(ARGV)) end
return redis.call('ZCOUNT', KEYS[1], '(' .. fmt(now), '+inf')
"""
)

READ_BREAKER = (
    _PRELUDE
    + """
-- KEYS: breaker. Reply: {seconds, microseconds, s, f, o, p}
local s, f, o, p = read_breaker(KEYS[1])
return {clock[1], clock[2], s, f, fmt(o), p}
"""
)

RECORD_HEALTH = (
    _PRELUDE
    + """
-- KEYS: health; ARGV: 1 ok | 0 failed, failure_threshold
-- Reply: {seconds, microseconds, healthy, failures, since}
local old = redis.call('HMGET', KEYS[1], 'h', 'f', 'since')
local was, failures, since = true, 0, nil
if old[1] then was, failures, since = old[1] == '1', tonumber(old[2]), old[3] end
local ok = ARGV[1] == '1'
if ok then failures = 0 else failures = failures + 1 end
local healthy = ok or (was and failures < tonumber(ARGV[2]))
if not old[1] or healthy ~= was then since = fmt(now) end
local h = healthy and 1 or 0
redis.call('HSET', KEYS[1], 'h', h, 'f', failures, 'since', since)
return {clock[1], clock[2], h, failures, since}
"""
)

READ_HEALTH = (
    _PRELUDE
    + """
-- KEYS: health. Reply: {seconds, microseconds[, healthy, failures, since]}
local old = redis.call('HMGET', KEYS[1], 'h', 'f', 'since')
if not old[1] then return {clock[1], clock[2]} end
return {clock[1], clock[2], tonumber(old[1]), tonumber(old[2]), old[3]}
"""
)

ALL = {
    "admit": ADMIT,
    "settle": SETTLE,
    "renew": RENEW,
    "in_flight": IN_FLIGHT,
    "read_breaker": READ_BREAKER,
    "record_health": RECORD_HEALTH,
    "read_health": READ_HEALTH,
}
"""Every script by name, for registering on a client and loading up front."""
