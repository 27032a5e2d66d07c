-- Sandbox escape attempts, run by tests/unit/plugins/lua/sandbox_test.cpp. Each function tries
-- one way out the plain way and lets the error through; the test checks the exact error, at the
-- line of the "@name" comment, and that ok() still works after it.

-- The globals before this script defines any.
local builtins = {}
for k in pairs(_ENV) do builtins[#builtins + 1] = k end
table.sort(builtins)
function globals() return table.concat(builtins, " ") end

function ok() return "ok" end

function os_execute() return os.execute("id") end -- @os_execute
function io_open() return io.open("/etc/passwd") end -- @io_open
function require_os() return require("os") end -- @require_os
function package_loadlib() return package.loadlib("libc.so.6", "system") end -- @package_loadlib
function do_file() return dofile("/etc/passwd") end -- @do_file
function load_file() return loadfile("/etc/passwd") end -- @load_file
function load_text() return load("return 1") end -- @load_text
function load_string() return loadstring("return 1") end -- @load_string
function string_dump() return string.dump(ok) end -- @string_dump
function debug_sethook() debug.sethook() end -- @debug_sethook
function debug_getregistry() return debug.getregistry() end -- @debug_getregistry
function string_metatable() return getmetatable("").__index end -- @string_metatable
function write_string_metatable() getmetatable("").__index = {} end -- @write_string_metatable
function collect_stop() return collectgarbage("stop") end -- @collect_stop
function collect_default() return collectgarbage() end -- @collect_default
function gc_metamethod() setmetatable({}, {__gc = function() while true do end end}) end -- @gc_metamethod
function warn_call() warn("@on") end -- @warn_call

-- What is left that is harmless.
function collect_count() return math.type(collectgarbage("count")) end
function string_metatable_value() return getmetatable("") end
function string_methods() return ("abc"):upper() .. ("x"):rep(3) end

-- Every name under which a loader could exist, with the bytes of a real bytecode header:
-- returns the names found (none).
function bytecode_loaders()
  local chunk = "\27Lua\84\0\25\147\r\n\26\n\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0\40\119\64\1"
  local found = {}
  for _, name in ipairs{"load", "loadstring", "loadfile", "dofile", "require", "package"} do
    if rawget(_ENV, name) ~= nil then found[#found + 1] = name end
  end
  for _, lib in ipairs{"string", "table", "math", "utf8", "coroutine", "postern"} do
    for name, f in pairs(_ENV[lib]) do
      if name:find("load") or name == "dump" then
        found[#found + 1] = lib .. "." .. name
        pcall(f, chunk)
      end
    end
  end
  return table.concat(found, " ")
end

-- _ENV is only the global table: replacing it does not reach anything new.
function env_swap()
  local _ENV = {print = print}
  return os -- nil
end
