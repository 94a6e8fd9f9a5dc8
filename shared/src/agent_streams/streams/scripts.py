"""Lua scripts: each does in one atomic round trip what would otherwise race.

PUBLISH appends a batch of entries to one stream (``ARGV[6:]``: per entry its field count, then
its fields), with approximate MAXLEN trimming, and mirrors each into the session log stream (for
follow / replay). It refuses the entries past the queue limit: a consumer group's backlog
(undelivered ``lag`` + delivered but unacknowledged ``pending``) counts the batch's own entries.
Returns ``{backlog before the batch, entry id or 0 (refused) per entry}``.
"""

from __future__ import annotations

PUBLISH = """
local limit = tonumber(ARGV[2])
local backlog = 0
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
      if pending + lag > backlog then backlog = pending + lag end
    end
  end
end
local mirror = KEYS[2] ~= nil and ARGV[3] ~= '0'
local out = {backlog}
local i = 6
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local fields = {}
  for j = i + 1, i + n do fields[#fields + 1] = ARGV[j] end
  i = i + n + 1
  if limit > 0 and backlog >= limit then
    out[#out + 1] = 0
  else
    out[#out + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
    backlog = backlog + 1
    if mirror then
      fields[#fields + 1] = 'topic'
      fields[#fields + 1] = ARGV[5]
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
    end
  end
end
if mirror then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return out
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
