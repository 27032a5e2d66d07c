-- Per-device pre-shared keys from a table: each device has its own IKE identity and key, so
-- one lost phone is revoked by deleting one line (and `postern reload`). For connections with
-- remote_auth = "psk" and no `psk` of their own.
--
--   [plugins.lua]
--   scripts = ["lua/device_psks.lua"]
--
-- Keep this file readable by root only: it holds the keys.

local KEYS = {
  ["phone.alice@example.com"]  = "alice's phone: a long random key 1",
  ["laptop.alice@example.com"] = "alice's laptop: a long random key 2",
  ["router.branch1.example.com"] = "branch 1 router: a long random key",
}

function psk(ctx)
  return KEYS[ctx.identity]  -- nil: unknown device, no key
end
