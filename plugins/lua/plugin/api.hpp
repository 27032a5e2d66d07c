// The `lua` plugin's API as scripts see it: the context each function gets, the `postern` host
// functions, and how return values become plugin decisions. docs/plugins.md is the reference.
//
//   function           ctx fields                                   returns
//   authorize(ctx)     connection identity user auth_method peer    nil: no opinion (next)
//                      peer_address local_identity groups time      true / false / "reason"
//                      hour minute weekday (local time; 1 = Sunday)  {allow=, reason=, pool=,
//                                                                    ipv4=, ipv6=, dns={},
//                                                                    routes={}, group=}
//   psk(ctx)           connection identity local_identity           the key (string) or nil
//   eap_secret(ctx)    user                                         nil: unknown here;
//                                                                    "password"; {password=} or
//                                                                    {nt_hash=hex}; enabled=false
//                                                                    disables; groups={...}
//   on_connect(ctx)    ike_sa connection identity user auth_method  (ignored)
//                      peer peer_address virtual_ips time
//   on_disconnect(ctx) ike_sa connection user peer peer_address     (ignored)
//                      reason time
//   on_auth_failure    connection identity user peer peer_address   (ignored)
//                      reason time
//
//   postern.user(name)        {name, enabled, groups, static_ipv4, static_ipv6, attributes}
//                             from the other plugins' user stores, or nil
//   postern.in_group(user, g) true when the account is in group g
//   postern.time()            Unix seconds
//   postern.date([t])         {year, month, day, hour, minute, second, weekday (1 = Sunday),
//                             yday} in local time
//   postern.log(text)         a line in posternd's log
//   postern.emit(table)       a JSON line (with "time") appended to [plugins.lua] events_file,
//                             or logged when there is none: a webhook-like event stream
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <tl/expected.hpp>

#include "plugins/lua/runtime/script.hpp"
#include "postern/plugin/plugin.hpp"

namespace postern::lua::plugin_api {

// The `postern` table for scripts of this plugin.
HostFunctions host_functions(plugin::Host& host, std::function<const std::string&()> events_file);

// Contexts.
Value authorize_context(const plugin::AuthorizeRequest& r);
Value psk_context(const plugin::PskRequest& r);
Value user_context(std::string_view user);
Value connect_context(const plugin::ConnectEvent& e);
Value disconnect_context(const plugin::DisconnectEvent& e);
Value auth_failure_context(const plugin::AuthFailureEvent& e);

// Return values; an error is a bad return value ("bad return value: ...").
tl::expected<plugin::AuthorizeResult, std::string> to_authorize_result(const Value& v);
// nullopt: the script does not know the identity.
tl::expected<std::optional<SecretBytes>, std::string> to_psk(const Value& v);
tl::expected<plugin::UserInfo, std::string> to_user(const Value& v);

}  // namespace postern::lua::plugin_api
