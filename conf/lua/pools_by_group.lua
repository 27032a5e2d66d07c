-- Choose a pool (and DNS servers and routes) by group: "engineering" gets addresses from the
-- pool "eng" and a route to the lab, everyone else the connection's own pools. The pools must
-- exist in postern.toml ([pools.eng]).
--
--   [plugins.lua]
--   scripts = ["lua/pools_by_group.lua"]

local BY_GROUP = {
  engineering = {pool = "eng", dns = {"10.20.0.53"}, routes = {"10.20.0.0/16", "10.30.0.0/16"}},
  sales = {pool = "sales"},
}

function authorize(ctx)
  for _, g in ipairs(ctx.groups) do
    local p = BY_GROUP[g]
    if p then
      return {pool = p.pool, dns = p.dns, routes = p.routes, group = g}
    end
  end
  return nil  -- no opinion: the next script (or the connection's defaults) decides
end
