-- A webhook-like event stream: every connect, disconnect and failed login as one JSON line in
-- [plugins.lua] events_file (a log shipper or a small daemon can forward them).
--
--   [plugins.lua]
--   scripts = ["lua/notify.lua"]
--   events_file = "/var/log/postern/events.jsonl"

function on_connect(ctx)
  postern.emit({event = "connect", user = ctx.user, peer = ctx.peer_address,
                addresses = ctx.virtual_ips, method = ctx.auth_method})
end

function on_disconnect(ctx)
  postern.emit({event = "disconnect", user = ctx.user, peer = ctx.peer_address,
                reason = ctx.reason})
end

function on_auth_failure(ctx)
  postern.emit({event = "auth_failure", identity = ctx.identity, peer = ctx.peer_address,
                reason = ctx.reason})
end
