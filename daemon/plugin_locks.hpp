// Plugins are written for one thread at a time; posternd calls them from its IKE shard threads
// (daemon/ike_shards.hpp) and from the I/O thread (event sinks, reload). Every component a
// plugin registers is wrapped here so that calls into one plugin take that plugin's lock:
// plugins run side by side, each one call at a time (a plugin's components share its state:
// sqlite-users' user store, leases and audit log are one database connection; Lua's are one
// interpreter). The lock is recursive, as a plugin may come back to itself through the host.
//
// Lock order: a plugin may hold its lock while it asks the host for a user
// (Host::lookup_user: Lua), which takes the stores' plugins' locks, and EAP methods ask the
// stores the same way; stores call no other plugin, so no cycle can form.
//
// The certificate verifier is not wrapped: CertificateVerifier::verify is const and must be
// safe to call from several threads (include/postern/plugin/x509.hpp); the x509 plugin's is.
#pragma once

#include <memory>
#include <mutex>

#include "postern/plugin/authorize.hpp"
#include "postern/plugin/eap.hpp"
#include "postern/plugin/events.hpp"
#include "postern/plugin/pools.hpp"
#include "postern/plugin/users.hpp"

namespace postern::daemon {

using PluginLock = std::shared_ptr<std::recursive_mutex>;

template <class T>
class Locked {
  public:
    Locked(PluginLock lock, std::shared_ptr<T> inner)
        : lock_(std::move(lock)), inner_(std::move(inner)) {}

  protected:
    std::unique_lock<std::recursive_mutex> hold() const { return std::unique_lock(*lock_); }
    PluginLock lock_;
    std::shared_ptr<T> inner_;
};

class LockedUserStore final : public plugin::UserStore, Locked<plugin::UserStore> {
  public:
    using Locked::Locked;
    plugin::UserInfo lookup(std::string_view name) override {
        auto l = hold();
        return inner_->lookup(name);
    }
};

class LockedPskSource final : public plugin::PskSource, Locked<plugin::PskSource> {
  public:
    using Locked::Locked;
    std::optional<SecretBytes> psk(const plugin::PskRequest& request) override {
        auto l = hold();
        return inner_->psk(request);
    }
};

class LockedAuthorizer final : public plugin::Authorizer, Locked<plugin::Authorizer> {
  public:
    using Locked::Locked;
    plugin::AuthorizeResult authorize(const plugin::AuthorizeRequest& request) override {
        auto l = hold();
        return inner_->authorize(request);
    }
};

class LockedEventSink final : public plugin::EventSink, Locked<plugin::EventSink> {
  public:
    using Locked::Locked;
    void on_connect(const plugin::ConnectEvent& e) override {
        auto l = hold();
        inner_->on_connect(e);
    }
    void on_disconnect(const plugin::DisconnectEvent& e) override {
        auto l = hold();
        inner_->on_disconnect(e);
    }
    void on_auth_failure(const plugin::AuthFailureEvent& e) override {
        auto l = hold();
        inner_->on_auth_failure(e);
    }
    void flush() override {
        auto l = hold();
        inner_->flush();
    }
};

class LockedAddressPools final : public plugin::AddressPools, Locked<plugin::AddressPools> {
  public:
    using Locked::Locked;
    std::optional<IpAddress> acquire(const std::string& pool, const std::string& identity,
                                     IpAddress::Family family,
                                     std::optional<IpAddress> requested) override {
        auto l = hold();
        return inner_->acquire(pool, identity, family, requested);
    }
    void release(const std::string& pool, const IpAddress& address) override {
        auto l = hold();
        inner_->release(pool, address);
    }
    void sync() override {
        auto l = hold();
        inner_->sync();
    }
};

// One conversation's method: its steps under the plugin's lock (they may use the plugin's
// shared state); what it reports about itself is its own.
class LockedEapMethod final : public plugin::EapMethod, Locked<plugin::EapMethod> {
  public:
    LockedEapMethod(PluginLock lock, std::unique_ptr<plugin::EapMethod> inner)
        : Locked(std::move(lock), std::shared_ptr<plugin::EapMethod>(std::move(inner))) {}
    std::uint8_t type() const override { return inner_->type(); }
    std::string_view name() const override { return inner_->name(); }
    Step begin(std::uint8_t id) override {
        auto l = hold();
        return inner_->begin(id);
    }
    Step process(ByteView type_data, std::uint8_t next_id) override {
        auto l = hold();
        return inner_->process(type_data, next_id);
    }
    std::optional<plugin::EapFailureReason> failure_reason() const override {
        return inner_->failure_reason();
    }
    const std::string& failure_detail() const override { return inner_->failure_detail(); }
    ByteView msk() const override { return inner_->msk(); }
    std::string description() const override { return inner_->description(); }
};

class LockedEapMethodFactory final : public plugin::EapMethodFactory,
                                     Locked<plugin::EapMethodFactory> {
  public:
    using Locked::Locked;
    std::uint8_t type() const override { return inner_->type(); }
    std::string_view name() const override { return inner_->name(); }
    std::unique_ptr<plugin::EapMethod> create(const plugin::EapContext& context) override {
        auto l = hold();
        auto m = inner_->create(context);
        if (!m) return nullptr;
        return std::make_unique<LockedEapMethod>(lock_, std::move(m));
    }
};

}  // namespace postern::daemon
