-- Lock out an identity after N failed logins within M minutes, until M minutes have passed
-- since the last failure. The failures are kept in the script's memory (a restart or a reload
-- forgets them).
--
--   [plugins.lua]
--   scripts = ["lua/lockout.lua"]

local N = 5              -- failures
local WINDOW = 10 * 60   -- seconds (M minutes)

local failures = {}      -- identity -> list of times

local function recent(identity, now)
  local kept = {}
  for _, t in ipairs(failures[identity] or {}) do
    if now - t < WINDOW then kept[#kept + 1] = t end
  end
  failures[identity] = kept
  return kept
end

function on_auth_failure(ctx)
  if ctx.identity == "" then return end
  local list = recent(ctx.identity, ctx.time)
  list[#list + 1] = ctx.time
  if #list == N then
    postern.log("locking out " .. ctx.identity .. " after " .. N .. " failures")
  end
end

-- Runs after a successful authentication: a locked-out identity is refused even with the
-- right password.
function authorize(ctx)
  if #recent(ctx.identity, ctx.time) >= N then
    return "locked out after " .. N .. " failed logins; try again later"
  end
  return nil
end
