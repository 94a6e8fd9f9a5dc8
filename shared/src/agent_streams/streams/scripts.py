"""Lua scripts: each does in one atomic round trip what would otherwise race.

PUBLISH refuses a publish when any consumer group's backlog (undelivered ``lag`` + delivered but
unacknowledged ``pending``) is at the limit, appends with approximate MAXLEN trimming, and
mirrors the entry into the session log stream (for follow / replay).
"""

from __future__ import annotations

PUBLISH = """
local limit = tonumber(ARGV[2])
if limit > 0 then
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
  if ok then
    for _, g in ipairs(groups) do
      local pending, lag = 0, 0
      for i = 1, #g, 2 do
        if g[i] == 'pending' then pending = g[i + 1]
        elseif g[i] == 'lag' then lag = g[i + 1] end
      end
      if not lag then lag = 0 end
      if pending + lag >= limit then
        return {0, pending + lag}
      end
    end
  end
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
if KEYS[2] and ARGV[3] ~= '0' then
  fields[#fields + 1] = 'topic'
  fields[#fields + 1] = ARGV[5]
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return {1, id}
"""

# Release / renew a lock only if we still hold it (the token is ours).
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

RENEW_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
