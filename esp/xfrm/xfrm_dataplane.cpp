#include "esp/xfrm/xfrm_dataplane.hpp"

#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "esp/xfrm/selectors.hpp"

namespace postern::esp::xfrm {

namespace {

constexpr std::uint32_t kProbeReqid = kReqidBase | 0xffffff;
constexpr std::uint32_t kLarvalReqid = kReqidBase | 0xfffffe;
constexpr std::uint32_t kMaxReqid = 0xfffff0;  // kernel reqids kReqidBase + 1 .. + this

std::string hex32(std::uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "%08x", v);
    return b;
}

// What an errno from an SA or policy request usually means here.
std::string hint(const NetlinkResult& r) {
    switch (-r.error) {
        case EPROTONOSUPPORT:
            return ": no ESP support in this kernel (CONFIG_INET_ESP / CONFIG_INET6_ESP, modules "
                   "esp4 / esp6)";
        case ENOENT:
        case ENOSYS:
            if (r.kernel_text.find("lgorithm") != std::string::npos)
                return ": the kernel's crypto API lacks this algorithm (its module is missing)";
            return {};
        case EPERM:
            return ": needs CAP_NET_ADMIN";
        default:
            return {};
    }
}

const char* dir_name(std::uint8_t dir) {
    switch (dir) {
        case XFRM_POLICY_IN: return "in";
        case XFRM_POLICY_OUT: return "out";
        case XFRM_POLICY_FWD: return "fwd";
        default: return "?";
    }
}

std::string selectors_text(const std::vector<Selector>& list) {
    std::string s;
    for (const auto& sel : list) {
        s += sel.start.to_string() + "-" + sel.end.to_string() + "/" +
             std::to_string(sel.ip_protocol) + "/" + std::to_string(sel.start_port) + "-" +
             std::to_string(sel.end_port) + ",";
    }
    return s;
}

}  // namespace

tl::expected<void, std::string> probe_kernel_esp() {
    auto sock = NetlinkSocket::open(NETLINK_XFRM);
    if (!sock) return tl::unexpected("the kernel cannot install an ESP SA: " + sock.error());
    // First ESP itself with the most common pair (AES-CBC + HMAC-SHA-256), then AES-GCM, the
    // transform every client proposes first: a kernel without it is no use as a data plane.
    static const std::uint8_t key[32] = {};
    struct Try {
        const char* what;
        std::uint16_t encr, integ;
        std::size_t encr_len, integ_len;
    };
    for (const Try& t : {Try{"AES-CBC/HMAC-SHA-256", 12, 12, 16, 32},
                         Try{"AES-GCM", 20, 0, 20, 0}}) {
        EspSaSpec s;
        s.spi = EspSpi(0xfffffffe);
        s.src = s.dst = Endpoint{*IpAddress::parse("127.0.0.1"), 0};
        s.encr_id = t.encr;
        s.integ_id = t.integ;
        s.encr_key = ByteView(key, t.encr_len);
        s.integ_key = ByteView(key, t.integ_len);
        s.replay_window = 32;
        auto msg = build_sa(s, kProbeReqid, false);
        if (!msg) return tl::unexpected("the kernel cannot install an ESP SA: " + msg.error());
        // A probe SA left by a crash in the middle of a probe is in the way; it is ours.
        sock->transact(build_sa_id(XFRM_MSG_DELSA, s.dst.address, s.spi));
        auto r = sock->transact(*msg);
        if (!r.ok())
            return tl::unexpected(std::string("the kernel cannot install an ESP SA: add SA (") +
                                  t.what + ", 127.0.0.1): " + r.text() + hint(r));
        sock->transact(build_sa_id(XFRM_MSG_DELSA, s.dst.address, s.spi));
    }
    return {};
}

tl::expected<void, std::string> enable_udp_encap(int fd) {
    int type = UDP_ENCAP_ESPINUDP;
    if (::setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof type) != 0)
        return tl::unexpected(std::string("setsockopt(UDP_ENCAP, UDP_ENCAP_ESPINUDP): ") +
                              std::strerror(errno));
    return {};
}

tl::expected<void, std::string> bypass_policies(int fd, bool ipv6) {
    xfrm_userpolicy_info pol{};
    pol.action = XFRM_POLICY_ALLOW;
    pol.sel.family = static_cast<std::uint16_t>(ipv6 ? AF_INET6 : AF_INET);
    pol.lft.soft_byte_limit = pol.lft.hard_byte_limit = kNoLimit;
    pol.lft.soft_packet_limit = pol.lft.hard_packet_limit = kNoLimit;
    for (std::uint8_t dir : {XFRM_POLICY_IN, XFRM_POLICY_OUT}) {
        pol.dir = dir;
        if (::setsockopt(fd, ipv6 ? IPPROTO_IPV6 : IPPROTO_IP,
                         ipv6 ? IPV6_XFRM_POLICY : IP_XFRM_POLICY, &pol, sizeof pol) != 0)
            return tl::unexpected(std::string("setsockopt(") +
                                  (ipv6 ? "IPV6_XFRM_POLICY" : "IP_XFRM_POLICY") + ", bypass " +
                                  dir_name(dir) + "): " + std::strerror(errno));
    }
    return {};
}

tl::expected<std::unique_ptr<XfrmDataPlane>, std::string> XfrmDataPlane::open(XfrmOptions options,
                                                                              LogFn log) {
    auto requests = NetlinkSocket::open(NETLINK_XFRM);
    if (!requests) return tl::unexpected(requests.error());
    auto events = NetlinkSocket::open(
        NETLINK_XFRM, {XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE, XFRMNLGRP_MAPPING, XFRMNLGRP_MIGRATE});
    if (!events) return tl::unexpected(events.error());
    std::optional<RouteManager> routes;
    if (options.routes) {
        auto r = RouteManager::open(options.route);
        if (!r) return tl::unexpected(r.error());
        routes.emplace(std::move(*r));
    }
    std::unique_ptr<XfrmDataPlane> dp(new XfrmDataPlane(std::move(*requests), std::move(*events),
                                                        std::move(routes), options,
                                                        std::move(log)));
    if (options.sweep_at_start) {
        if (auto n = dp->sweep())
            dp->log(LogLevel::info, "removed " + std::to_string(n) +
                                        " kernel objects (SAs, policies, routes) left by an "
                                        "earlier posternd");
    }
    return dp;
}

XfrmDataPlane::XfrmDataPlane(NetlinkSocket requests, NetlinkSocket events,
                             std::optional<RouteManager> routes, XfrmOptions options, LogFn log)
    : requests_(std::move(requests)),
      events_(std::move(events)),
      routes_(std::move(routes)),
      options_(options),
      log_(std::move(log)) {}

XfrmDataPlane::~XfrmDataPlane() {
    if (!shut_down_) shutdown();
}

std::string XfrmDataPlane::describe(const SaEntry& e) const {
    return std::string(e.inbound ? "inbound" : "outbound") + " ESP SA " + hex32(e.spi.value()) +
           " " + e.src.to_string() + " -> " + e.dst.to_string() + " (reqid " + hex32(e.reqid) +
           ")";
}

std::uint32_t XfrmDataPlane::acquire_reqid(const std::string& key) {
    auto it = reqids_.find(key);
    if (it != reqids_.end()) {
        ++it->second.refs;
        return it->second.reqid;
    }
    std::uint32_t r;
    do {
        r = kReqidBase | next_reqid_;
        next_reqid_ = next_reqid_ >= kMaxReqid ? 1 : next_reqid_ + 1;
    } while (reqids_in_use_.count(r));
    reqids_in_use_.insert(r);
    reqids_.emplace(key, ReqidUse{r, 1});
    return r;
}

void XfrmDataPlane::release_reqid(const std::string& key) {
    auto it = reqids_.find(key);
    if (it == reqids_.end()) return;
    if (--it->second.refs > 0) return;
    reqids_in_use_.erase(it->second.reqid);
    reqids_.erase(it);
}

void XfrmDataPlane::acquire_policy(const xfrm_selector& sel, std::uint8_t dir,
                                   const PolicyOwner& owner, std::vector<PolicyOp>& ops) {
    const std::string key = std::string(dir_name(dir)) + " " + to_string(sel);
    auto it = policies_.find(key);
    if (it == policies_.end()) {
        PolicyState st;
        st.spec.sel = sel;
        st.spec.dir = dir;
        st.spec.priority = policy_priority(sel);
        st.spec.tmpl_src = owner.tmpl_src;
        st.spec.tmpl_dst = owner.tmpl_dst;
        st.spec.reqid = owner.reqid;
        st.owners.push_back(owner);
        st.owners.back().refs = 1;
        ops.push_back({key, true, false, build_policy(st.spec, false)});
        policies_.emplace(key, std::move(st));
        return;
    }
    PolicyState& st = it->second;
    for (auto& o : st.owners)
        if (o == owner) {
            ++o.refs;
            ops.push_back({key, false, false, Message()});
            return;
        }
    st.owners.push_back(owner);
    st.owners.back().refs = 1;
    st.spec.tmpl_src = owner.tmpl_src;
    st.spec.tmpl_dst = owner.tmpl_dst;
    st.spec.reqid = owner.reqid;
    ops.push_back({key, false, true, build_policy(st.spec, true)});
}

void XfrmDataPlane::undo_policy(const PolicyOp& op, const PolicyOwner& owner) {
    auto it = policies_.find(op.key);
    if (it == policies_.end()) return;
    PolicyState& st = it->second;
    if (op.created) {
        policies_.erase(it);
        return;
    }
    if (op.switched) {
        st.owners.pop_back();
        st.spec.tmpl_src = st.owners.back().tmpl_src;
        st.spec.tmpl_dst = st.owners.back().tmpl_dst;
        st.spec.reqid = st.owners.back().reqid;
        return;
    }
    for (auto& o : st.owners)
        if (o == owner) --o.refs;
}

std::optional<Message> XfrmDataPlane::release_policy(const std::string& key,
                                                     const PolicyOwner& owner) {
    auto it = policies_.find(key);
    if (it == policies_.end()) return std::nullopt;
    PolicyState& st = it->second;
    for (std::size_t i = 0; i < st.owners.size(); ++i) {
        if (!(st.owners[i] == owner)) continue;
        if (--st.owners[i].refs > 0) return std::nullopt;
        const bool active = i + 1 == st.owners.size();
        st.owners.erase(st.owners.begin() + static_cast<std::ptrdiff_t>(i));
        if (st.owners.empty()) {
            Message m = build_delete_policy(st.spec.sel, st.spec.dir);
            policies_.erase(it);
            return m;
        }
        if (!active) return std::nullopt;
        st.spec.tmpl_src = st.owners.back().tmpl_src;
        st.spec.tmpl_dst = st.owners.back().tmpl_dst;
        st.spec.reqid = st.owners.back().reqid;
        return build_policy(st.spec, true);
    }
    return std::nullopt;
}

bool XfrmDataPlane::install(const EspSaSpec& sa, std::string& error) {
    SaEntry e;
    e.spi = sa.spi;
    e.inbound = sa.inbound;
    e.src = sa.src.address;
    e.dst = sa.dst.address;
    e.engine_reqid = sa.reqid;
    const auto id = std::pair{sa.spi.value(), sa.inbound};
    if (sas_.count(id)) {
        error = std::string(sa.inbound ? "inbound" : "outbound") + " ESP SA " +
                hex32(sa.spi.value()) + " is already installed";
        ++stats_.install_errors;
        return false;
    }
    const Endpoint& local = sa.inbound ? sa.dst : sa.src;
    const Endpoint& peer = sa.inbound ? sa.src : sa.dst;
    e.reqid_key = local.address.to_string() + "|" + peer.to_string() + "|" +
                  selectors_text(sa.remote_ts);
    e.reqid = acquire_reqid(e.reqid_key);
    auto fail = [&](const std::string& what) {
        error = what;
        release_reqid(e.reqid_key);
        ++stats_.install_errors;
        return false;
    };

    // Selectors first: nothing goes to the kernel for SAs whose policies cannot be expressed.
    const SelectorList sl = sa.inbound ? make_selectors(sa.remote_ts, sa.local_ts)
                                       : make_selectors(sa.local_ts, sa.remote_ts);
    if (!sl.error.empty()) return fail("policies for " + describe(e) + ": " + sl.error);

    const bool update = sa.inbound && larval_.count(sa.spi.value());
    auto msg = build_sa(sa, e.reqid, update);
    if (!msg) return fail((update ? "update " : "add ") + describe(e) + ": " + msg.error());
    auto r = requests_.transact(*msg);
    if (!r.ok())
        return fail((update ? "update " : "add ") + describe(e) + ": " + r.text() + hint(r));
    larval_.erase(sa.spi.value());

    // Policies: out for the outbound SA; in and fwd for the inbound one.
    const PolicyOwner owner{e.reqid, sa.src.address, sa.dst.address, 0};
    std::vector<PolicyOp> ops;
    for (const auto& sel : sl.selectors) {
        if (sa.inbound) {
            acquire_policy(sel, XFRM_POLICY_IN, owner, ops);
            acquire_policy(sel, XFRM_POLICY_FWD, owner, ops);
        } else {
            acquire_policy(sel, XFRM_POLICY_OUT, owner, ops);
        }
    }
    std::vector<const Message*> to_send;
    std::vector<std::size_t> sent_index;
    for (std::size_t i = 0; i < ops.size(); ++i)
        if (ops[i].msg) {
            to_send.push_back(&ops[i].msg);
            sent_index.push_back(i);
        }
    auto results = requests_.transact(to_send);
    std::string policy_error;
    std::vector<bool> failed(ops.size(), false);
    for (std::size_t j = 0; j < results.size(); ++j) {
        if (results[j].ok()) continue;
        const PolicyOp& op = ops[sent_index[j]];
        failed[sent_index[j]] = true;
        if (policy_error.empty())
            policy_error = std::string(op.created ? "add" : "update") + " policy " + op.key +
                           " for " + describe(e) + ": " + results[j].text() + hint(results[j]);
    }
    for (std::size_t i = 0; i < ops.size(); ++i)
        if (failed[i]) undo_policy(ops[i], owner);
        else e.policies.push_back(ops[i].key);
    if (!policy_error.empty()) {
        std::vector<std::string> ignored;
        release(e, &ignored);
        requests_.transact(build_sa_id(XFRM_MSG_DELSA, e.dst, e.spi));
        error = policy_error;
        ++stats_.install_errors;
        return false;  // release() gave the reqid back
    }

    // Routes to the remote prefixes (outbound: the direction that needs them).
    if (!sa.inbound && routes_) {
        std::optional<IpAddress> source;
        for (const auto& ts : sa.local_ts)
            for (const auto& p : range_to_prefixes(ts.start, ts.end))
                if (p.contains(local.address)) source = local.address;
        for (const auto& ts : sa.remote_ts)
            for (const auto& p : range_to_prefixes(ts.start, ts.end)) {
                // 0/0 would take the gateway's own default route; a prefix holding the peer's
                // address would route IKE and ESP to the peer into the tunnel.
                if (p.length == 0 || p.contains(peer.address)) continue;
                if (auto ok = routes_->add(p, peer.address, source); !ok) {
                    log(LogLevel::warning, ok.error() + " (for " + describe(e) + ")");
                    continue;
                }
                e.routes.push_back(p);
            }
    }
    sas_.emplace(id, std::move(e));
    ++stats_.installed;
    return true;
}

void XfrmDataPlane::release(SaEntry& e, std::vector<std::string>* errors) {
    const PolicyOwner owner{e.reqid, e.src, e.dst, 0};
    std::vector<Message> msgs;
    std::vector<std::string> keys;
    for (const auto& key : e.policies)
        if (auto m = release_policy(key, owner)) {
            msgs.push_back(std::move(*m));
            keys.push_back(key);
        }
    std::vector<const Message*> ptrs;
    for (const auto& m : msgs) ptrs.push_back(&m);
    auto results = requests_.transact(ptrs);
    for (std::size_t i = 0; i < results.size(); ++i)
        if (!results[i].ok() && results[i].error != -ENOENT && errors)
            errors->push_back("delete policy " + keys[i] + " of " + describe(e) + ": " +
                              results[i].text());
    e.policies.clear();
    if (routes_)
        for (const auto& p : e.routes)
            if (auto ok = routes_->remove(p); !ok && errors) errors->push_back(ok.error());
    e.routes.clear();
    release_reqid(e.reqid_key);
}

bool XfrmDataPlane::remove(EspSpi spi, bool inbound, std::string& error) {
    auto it = sas_.find({spi.value(), inbound});
    if (it == sas_.end()) {
        error = std::string(inbound ? "inbound" : "outbound") + " ESP SA " + hex32(spi.value()) +
                " is not installed";
        return false;
    }
    SaEntry& e = it->second;
    std::vector<std::string> errors;
    if (!e.gone) {
        auto r = requests_.transact(build_sa_id(XFRM_MSG_DELSA, e.dst, e.spi));
        if (r.error == -ESRCH || r.error == -ENOENT)
            log(LogLevel::debug, describe(e) + " was already gone from the kernel");
        else if (!r.ok())
            errors.push_back("delete " + describe(e) + ": " + r.text());
    }
    release(e, &errors);
    sas_.erase(it);
    ++stats_.removed;
    if (errors.empty()) return true;
    error = errors.front();
    for (std::size_t i = 1; i < errors.size(); ++i) error += "; " + errors[i];
    return false;
}

bool XfrmDataPlane::counters(EspSpi spi, bool inbound, SaCounters& out) {
    out = {};
    auto it = sas_.find({spi.value(), inbound});
    if (it == sas_.end() || it->second.gone) return false;
    std::optional<SaInfo> info;
    auto r = requests_.request(build_sa_id(XFRM_MSG_GETSA, it->second.dst, spi),
                               [&](const nlmsghdr* h) { info = parse_sa(h); });
    if (!r.ok() || !info) return false;
    out.bytes = info->bytes;
    out.packets = info->packets;
    const auto now = static_cast<std::uint64_t>(std::time(nullptr));
    const std::uint64_t last = info->use_time ? info->use_time : info->add_time;
    out.last_used_seconds_ago = now > last ? now - last : 0;
    return true;
}

tl::expected<EspSpi, std::string> XfrmDataPlane::allocate_spi(const IpAddress& peer,
                                                              const IpAddress& local) {
    std::optional<SaInfo> info;
    auto r = requests_.request(build_allocspi(peer, local, kLarvalReqid, 0x100, 0xffffffff),
                               [&](const nlmsghdr* h) { info = parse_sa(h); });
    if (!r.ok() || !info)
        return tl::unexpected("allocate SPI " + peer.to_string() + " -> " + local.to_string() +
                              ": " + (r.ok() ? std::string("no answer") : r.text() + hint(r)));
    larval_.insert(info->spi.value());
    return info->spi;
}

void XfrmDataPlane::process_events() {
    auto find = [&](EspSpi spi, const IpAddress& dst) -> SaEntry* {
        for (bool inbound : {true, false}) {
            auto it = sas_.find({spi.value(), inbound});
            if (it != sas_.end() && it->second.dst == dst) return &it->second;
        }
        return nullptr;
    };
    bool overrun = false;
    std::string err;
    const bool ok = events_.receive(
        [&](const nlmsghdr* h) {
            if (auto ex = parse_expire(h)) {
                if (!is_postern_reqid(ex->sa.reqid)) return;
                SaEntry* e = find(ex->sa.spi, ex->sa.dst);
                ++(ex->hard ? stats_.hard_expires : stats_.soft_expires);
                if (!e) {
                    log(LogLevel::debug, std::string(ex->hard ? "hard" : "soft") +
                                             " expire of ESP SA " + hex32(ex->sa.spi.value()) +
                                             " that Postern no longer tracks");
                    return;
                }
                if (ex->hard) e->gone = true;  // the kernel deletes it after telling
                log(LogLevel::debug, std::string("kernel: ") + (ex->hard ? "hard" : "soft") +
                                         " expire of " + describe(*e));
                if (on_lifetime_) {
                    SaLifetimeEvent ev;
                    ev.spi = e->spi;
                    ev.inbound = e->inbound;
                    ev.reqid = e->engine_reqid;
                    ev.events = ex->hard ? kEventHard : kEventSoft;
                    on_lifetime_(ev);
                }
            } else if (auto acq = parse_acquire(h)) {
                if (!is_postern_reqid(acq->reqid)) return;
                ++stats_.acquires;
                log(LogLevel::warning,
                    "kernel: acquire for " + to_string(acq->sel) + " (policy " +
                        dir_name(acq->dir) + ", reqid " + hex32(acq->reqid) + ", tunnel " +
                        acq->src.to_string() + " -> " + acq->dst.to_string() +
                        "): no SA carries this traffic; Postern does not negotiate CHILD_SAs on "
                        "demand, the peer has to (its SA expired or was deleted)");
            } else if (auto map = parse_mapping(h)) {
                if (!is_postern_reqid(map->reqid)) return;
                ++stats_.mappings;
                log(LogLevel::info, "kernel: NAT mapping of ESP SA " + hex32(map->spi.value()) +
                                        " changed: " + map->old_addr.to_string() + ":" +
                                        std::to_string(map->old_port) + " -> " +
                                        map->new_addr.to_string() + ":" +
                                        std::to_string(map->new_port));
            } else if (h->nlmsg_type == XFRM_MSG_MIGRATE) {
                ++stats_.migrates;
                log(LogLevel::info, "kernel: XFRM migrate notification (not acted on: the IKE "
                                    "engine moves SAs itself)");
            }
        },
        overrun, err);
    if (!ok && overrun) {
        ++stats_.events_lost;
        log(LogLevel::warning,
            "kernel XFRM events were lost (socket buffer full): expire events may be missing");
    } else if (!ok) {
        log(LogLevel::error, "reading kernel XFRM events: " + err);
    }
}

std::size_t XfrmDataPlane::sweep() {
    std::size_t n = 0;
    std::vector<Message> dels;
    requests_.request(build_dump(XFRM_MSG_GETSA), [&](const nlmsghdr* h) {
        if (auto sa = parse_sa(h); sa && is_postern_reqid(sa->reqid))
            dels.push_back(build_sa_id(XFRM_MSG_DELSA, sa->dst, sa->spi));
    });
    requests_.request(build_dump(XFRM_MSG_GETPOLICY), [&](const nlmsghdr* h) {
        if (auto p = parse_policy(h); p && is_postern_reqid(p->reqid))
            dels.push_back(build_delete_policy_index(p->index, p->dir));
    });
    std::vector<const Message*> ptrs;
    for (const auto& m : dels) ptrs.push_back(&m);
    for (const auto& r : requests_.transact(ptrs))
        if (r.ok()) ++n;
    if (routes_) n += routes_->sweep();
    return n;
}

std::size_t XfrmDataPlane::shutdown() {
    shut_down_ = true;
    std::size_t n = 0;
    std::vector<Message> dels;
    for (const auto& [id, e] : sas_)
        if (!e.gone) dels.push_back(build_sa_id(XFRM_MSG_DELSA, e.dst, e.spi));
    for (const auto& [key, st] : policies_) dels.push_back(build_delete_policy(st.spec.sel, st.spec.dir));
    std::vector<const Message*> ptrs;
    for (const auto& m : dels) ptrs.push_back(&m);
    for (const auto& r : requests_.transact(ptrs))
        if (r.ok()) ++n;
    sas_.clear();
    policies_.clear();
    reqids_.clear();
    reqids_in_use_.clear();
    larval_.clear();
    return n + sweep();
}

}  // namespace postern::esp::xfrm
