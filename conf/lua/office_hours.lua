-- Allow by group and time of day: members of "staff" at any time, members of "contractors"
-- on weekdays from 07:00 to 19:00 (the server's local time), nobody else.
--
--   [plugins.lua]
--   scripts = ["lua/office_hours.lua", "lua/pools_by_group.lua"]
--
-- It only refuses: a login it lets through gets no answer here (nil), so a later script (such
-- as pools_by_group.lua) can still choose its pool. List it first.

local OPEN, CLOSE = 7, 19                  -- hours
local WEEKDAYS = {[2] = true, [3] = true, [4] = true, [5] = true, [6] = true}  -- Mon-Fri

local function member(ctx, group)
  for _, g in ipairs(ctx.groups) do
    if g == group then return true end
  end
  return false
end

function authorize(ctx)
  if member(ctx, "staff") then
    return nil
  end
  if member(ctx, "contractors") then
    if WEEKDAYS[ctx.weekday] and ctx.hour >= OPEN and ctx.hour < CLOSE then
      return nil
    end
    return "contractors connect on weekdays from 07:00 to 19:00"
  end
  return "not in staff or contractors"
end
