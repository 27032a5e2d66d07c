#include "esp/xfrm/xfrm_messages.hpp"

#include <linux/udp.h>
#include <netinet/in.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <openssl/crypto.h>
#include <sys/socket.h>

#include <cstring>

#include "esp/xfrm/selectors.hpp"

namespace postern::esp::xfrm {

namespace {

// IKEv2 transform IDs (IANA "Transform Type 1/3"), as ike/wire/constants.hpp numbers them;
// repeated here so the data plane depends on include/ only.
enum : std::uint16_t {
    ENCR_3DES = 3,
    ENCR_NULL = 11,
    ENCR_AES_CBC = 12,
    ENCR_AES_CTR = 13,
    ENCR_AES_CCM_8 = 14,
    ENCR_AES_CCM_12 = 15,
    ENCR_AES_CCM_16 = 16,
    ENCR_AES_GCM_8 = 18,
    ENCR_AES_GCM_12 = 19,
    ENCR_AES_GCM_16 = 20,
    ENCR_NULL_AUTH_AES_GMAC = 21,
    ENCR_CHACHA20_POLY1305 = 28,
};
enum : std::uint16_t {
    AUTH_NONE = 0,
    AUTH_HMAC_MD5_96 = 1,
    AUTH_HMAC_SHA1_96 = 2,
    AUTH_AES_XCBC_96 = 5,
    AUTH_AES_CMAC_96 = 8,
    AUTH_HMAC_SHA2_256_128 = 12,
    AUTH_HMAC_SHA2_384_192 = 13,
    AUTH_HMAC_SHA2_512_256 = 14,
};

// Priorities of Postern's policies (lower wins): a band of their own, more specific first.
constexpr std::uint32_t kPriorityBase = 100000;

template <typename T>
T read_struct(const void* p) {
    T t;
    std::memcpy(&t, p, sizeof t);
    return t;
}

// The attributes after a fixed header of `hdrlen` octets, by type (nullptr when absent).
struct Attrs {
    nlattr* tb[XFRMA_MAX + 1] = {};
    bool parse(const nlmsghdr* h, std::size_t hdrlen) {
        return nlmsg_parse(const_cast<nlmsghdr*>(h), static_cast<int>(hdrlen), tb, XFRMA_MAX,
                           nullptr) == 0;
    }
};

void fill_encap(SaInfo& info, const Attrs& a) {
    if (const nlattr* e = a.tb[XFRMA_ENCAP]; e && nla_len(e) >= int(sizeof(xfrm_encap_tmpl))) {
        auto t = read_struct<xfrm_encap_tmpl>(nla_data(e));
        info.encap_sport = ntohs(t.encap_sport);
        info.encap_dport = ntohs(t.encap_dport);
    }
}

SaInfo from_usersa(const xfrm_usersa_info& s) {
    SaInfo i;
    i.spi = EspSpi(ntohl(s.id.spi));
    i.dst = from_xfrm(s.id.daddr, s.family);
    i.src = from_xfrm(s.saddr, s.family);
    i.reqid = s.reqid;
    i.bytes = s.curlft.bytes;
    i.packets = s.curlft.packets;
    i.add_time = s.curlft.add_time;
    i.use_time = s.curlft.use_time;
    return i;
}

Message alloc(int type, int flags = 0) { return Message(nlmsg_alloc_simple(type, flags)); }

}  // namespace

tl::expected<KernelAlgorithms, std::string> kernel_algorithms(std::uint16_t encr_id,
                                                              std::uint16_t integ_id) {
    KernelAlgorithms k;
    auto aead = [&](const char* name, unsigned icv) {
        k.encr = name;
        k.aead = true;
        k.icv_bits = icv;
    };
    switch (encr_id) {
        case ENCR_AES_GCM_16: aead("rfc4106(gcm(aes))", 128); break;
        case ENCR_AES_GCM_12: aead("rfc4106(gcm(aes))", 96); break;
        case ENCR_AES_GCM_8: aead("rfc4106(gcm(aes))", 64); break;
        case ENCR_AES_CCM_16: aead("rfc4309(ccm(aes))", 128); break;
        case ENCR_AES_CCM_12: aead("rfc4309(ccm(aes))", 96); break;
        case ENCR_AES_CCM_8: aead("rfc4309(ccm(aes))", 64); break;
        case ENCR_CHACHA20_POLY1305: aead("rfc7539esp(chacha20,poly1305)", 128); break;
        case ENCR_NULL_AUTH_AES_GMAC: aead("rfc4543(gcm(aes))", 128); break;
        case ENCR_AES_CBC: k.encr = "cbc(aes)"; break;
        case ENCR_AES_CTR: k.encr = "rfc3686(ctr(aes))"; break;
        case ENCR_3DES: k.encr = "cbc(des3_ede)"; break;
        case ENCR_NULL: k.encr = "ecb(cipher_null)"; break;
        default:
            return tl::unexpected("ESP encryption transform " + std::to_string(encr_id) +
                                  " has no kernel (XFRM) equivalent here");
    }
    if (k.aead) {
        if (integ_id != AUTH_NONE)
            return tl::unexpected("an AEAD transform with integrity transform " +
                                  std::to_string(integ_id));
        return k;
    }
    switch (integ_id) {
        case AUTH_HMAC_SHA2_256_128: k.integ = "hmac(sha256)"; k.trunc_bits = 128; break;
        case AUTH_HMAC_SHA2_384_192: k.integ = "hmac(sha384)"; k.trunc_bits = 192; break;
        case AUTH_HMAC_SHA2_512_256: k.integ = "hmac(sha512)"; k.trunc_bits = 256; break;
        case AUTH_HMAC_SHA1_96: k.integ = "hmac(sha1)"; k.trunc_bits = 96; break;
        case AUTH_HMAC_MD5_96: k.integ = "hmac(md5)"; k.trunc_bits = 96; break;
        case AUTH_AES_XCBC_96: k.integ = "xcbc(aes)"; k.trunc_bits = 96; break;
        case AUTH_AES_CMAC_96: k.integ = "cmac(aes)"; k.trunc_bits = 96; break;
        case AUTH_NONE:
            return tl::unexpected(std::string("a non-AEAD ESP transform without integrity"));
        default:
            return tl::unexpected("ESP integrity transform " + std::to_string(integ_id) +
                                  " has no kernel (XFRM) equivalent here");
    }
    return k;
}

tl::expected<Message, std::string> build_sa(const EspSaSpec& sa, std::uint32_t reqid,
                                            bool update) {
    auto alg = kernel_algorithms(sa.encr_id, sa.integ_id);
    if (!alg) return tl::unexpected(alg.error());
    if (sa.src.address.family() != sa.dst.address.family())
        return tl::unexpected(std::string("outer addresses of different families"));
    if (sa.replay_window > 4096)
        return tl::unexpected("replay window " + std::to_string(sa.replay_window) +
                              " is larger than the kernel's 4096");

    xfrm_usersa_info info{};
    info.id.daddr = to_xfrm(sa.dst.address);
    info.id.spi = htonl(sa.spi.value());
    info.id.proto = IPPROTO_ESP;
    info.saddr = to_xfrm(sa.src.address);
    info.family = static_cast<std::uint16_t>(af(sa.src.address));
    info.mode = XFRM_MODE_TUNNEL;
    info.reqid = reqid;
    info.lft.soft_byte_limit = sa.soft_bytes ? sa.soft_bytes : kNoLimit;
    info.lft.hard_byte_limit = sa.hard_bytes ? sa.hard_bytes : kNoLimit;
    info.lft.soft_packet_limit = sa.soft_packets ? sa.soft_packets : kNoLimit;
    info.lft.hard_packet_limit = sa.hard_packets ? sa.hard_packets : kNoLimit;
    info.lft.soft_add_expires_seconds = sa.soft_seconds;
    info.lft.hard_add_expires_seconds = sa.hard_seconds;
    const bool esn_attr = sa.esn || sa.replay_window > 32;
    // The selector stays empty (tunnel mode: the policies select), and AF_UNSPEC keeps it so:
    // without the flag the kernel gives it the outer family, and IPv6 inside an IPv4 tunnel (or
    // the reverse) fails the inbound state check (XfrmInStateMismatch).
    info.flags |= XFRM_STATE_AF_UNSPEC;
    if (sa.esn) info.flags |= XFRM_STATE_ESN;
    if (!esn_attr) info.replay_window = static_cast<std::uint8_t>(sa.replay_window);

    Message msg(nlmsg_alloc_simple(update ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA, 0), true);
    if (!msg) return tl::unexpected(std::string("out of memory"));
    if (nlmsg_append(msg.get(), &info, sizeof info, NLMSG_ALIGNTO) < 0)
        return tl::unexpected(std::string("message too large"));

    // Algorithm attributes: the fixed part, then the key (wiped after the copy into msg).
    auto put_alg = [&](int type, const void* head, std::size_t head_len,
                       ByteView key) -> bool {
        std::vector<unsigned char> buf(head_len + key.size());
        std::memcpy(buf.data(), head, head_len);
        if (!key.empty()) std::memcpy(buf.data() + head_len, key.data(), key.size());
        const bool ok = nla_put(msg.get(), type, static_cast<int>(buf.size()), buf.data()) == 0;
        OPENSSL_cleanse(buf.data(), buf.size());
        return ok;
    };
    bool ok = true;
    if (alg->aead) {
        xfrm_algo_aead a{};
        std::strncpy(a.alg_name, alg->encr.c_str(), sizeof a.alg_name - 1);
        a.alg_key_len = static_cast<unsigned>(sa.encr_key.size() * 8);
        a.alg_icv_len = alg->icv_bits;
        ok = put_alg(XFRMA_ALG_AEAD, &a, sizeof a, sa.encr_key);
    } else {
        xfrm_algo c{};
        std::strncpy(c.alg_name, alg->encr.c_str(), sizeof c.alg_name - 1);
        c.alg_key_len = static_cast<unsigned>(sa.encr_key.size() * 8);
        ok = put_alg(XFRMA_ALG_CRYPT, &c, sizeof c, sa.encr_key);
        xfrm_algo_auth i{};
        std::strncpy(i.alg_name, alg->integ.c_str(), sizeof i.alg_name - 1);
        i.alg_key_len = static_cast<unsigned>(sa.integ_key.size() * 8);
        i.alg_trunc_len = alg->trunc_bits;
        ok = ok && put_alg(XFRMA_ALG_AUTH_TRUNC, &i, sizeof i, sa.integ_key);
    }
    if (ok && esn_attr) {
        const std::uint32_t words = (std::max<std::uint32_t>(sa.replay_window, 1) + 31) / 32;
        std::vector<unsigned char> buf(sizeof(xfrm_replay_state_esn) + words * 4);
        xfrm_replay_state_esn r{};
        r.bmp_len = words;
        r.replay_window = sa.replay_window;
        std::memcpy(buf.data(), &r, sizeof r);
        ok = nla_put(msg.get(), XFRMA_REPLAY_ESN_VAL, static_cast<int>(buf.size()), buf.data()) ==
             0;
    }
    if (ok && sa.udp_encap) {
        xfrm_encap_tmpl e{};
        e.encap_type = UDP_ENCAP_ESPINUDP;
        e.encap_sport = htons(sa.src.port);
        e.encap_dport = htons(sa.dst.port);
        ok = nla_put(msg.get(), XFRMA_ENCAP, sizeof e, &e) == 0;
    }
    if (!ok) return tl::unexpected(std::string("message too large"));
    return msg;
}

Message build_sa_id(int type, const IpAddress& dst, EspSpi spi) {
    xfrm_usersa_id id{};
    id.daddr = to_xfrm(dst);
    id.spi = htonl(spi.value());
    id.family = static_cast<std::uint16_t>(af(dst));
    id.proto = IPPROTO_ESP;
    Message m = alloc(type);
    nlmsg_append(m.get(), &id, sizeof id, NLMSG_ALIGNTO);
    return m;
}

Message build_allocspi(const IpAddress& src, const IpAddress& dst, std::uint32_t reqid,
                       std::uint32_t min, std::uint32_t max) {
    xfrm_userspi_info s{};
    s.info.id.daddr = to_xfrm(dst);
    s.info.id.proto = IPPROTO_ESP;
    s.info.saddr = to_xfrm(src);
    s.info.family = static_cast<std::uint16_t>(af(src));
    s.info.mode = XFRM_MODE_TUNNEL;
    s.info.reqid = reqid;
    s.min = min;
    s.max = max;
    Message m = alloc(XFRM_MSG_ALLOCSPI);
    nlmsg_append(m.get(), &s, sizeof s, NLMSG_ALIGNTO);
    return m;
}

Message build_dump(int type) {
    Message m = alloc(type, NLM_F_DUMP);
    if (type == XFRM_MSG_GETSA) {
        xfrm_usersa_id id{};
        nlmsg_append(m.get(), &id, sizeof id, NLMSG_ALIGNTO);
    } else {
        xfrm_userpolicy_id id{};
        nlmsg_append(m.get(), &id, sizeof id, NLMSG_ALIGNTO);
    }
    return m;
}

std::uint32_t policy_priority(const xfrm_selector& sel) {
    const unsigned bits = sel.family == AF_INET ? 64 : 256;
    std::uint32_t p = kPriorityBase + (bits - sel.prefixlen_s - sel.prefixlen_d) * 4;
    if (!sel.proto) p += 2;
    if (!sel.sport_mask && !sel.dport_mask) p += 1;
    return p;
}

Message build_policy(const PolicySpec& p, bool update) {
    xfrm_userpolicy_info info{};
    info.sel = p.sel;
    info.lft.soft_byte_limit = info.lft.hard_byte_limit = kNoLimit;
    info.lft.soft_packet_limit = info.lft.hard_packet_limit = kNoLimit;
    info.priority = p.priority;
    info.dir = p.dir;
    info.action = XFRM_POLICY_ALLOW;
    info.share = XFRM_SHARE_ANY;
    xfrm_user_tmpl t{};
    t.id.daddr = to_xfrm(p.tmpl_dst);
    t.id.proto = IPPROTO_ESP;
    t.family = static_cast<std::uint16_t>(af(p.tmpl_dst));
    t.saddr = to_xfrm(p.tmpl_src);
    t.reqid = p.reqid;
    t.mode = XFRM_MODE_TUNNEL;
    t.aalgos = t.ealgos = t.calgos = ~0u;
    Message m = alloc(update ? XFRM_MSG_UPDPOLICY : XFRM_MSG_NEWPOLICY);
    nlmsg_append(m.get(), &info, sizeof info, NLMSG_ALIGNTO);
    nla_put(m.get(), XFRMA_TMPL, sizeof t, &t);
    return m;
}

Message build_delete_policy(const xfrm_selector& sel, std::uint8_t dir) {
    xfrm_userpolicy_id id{};
    id.sel = sel;
    id.dir = dir;
    Message m = alloc(XFRM_MSG_DELPOLICY);
    nlmsg_append(m.get(), &id, sizeof id, NLMSG_ALIGNTO);
    return m;
}

Message build_delete_policy_index(std::uint32_t index, std::uint8_t dir) {
    xfrm_userpolicy_id id{};
    id.index = index;
    id.dir = dir;
    Message m = alloc(XFRM_MSG_DELPOLICY);
    nlmsg_append(m.get(), &id, sizeof id, NLMSG_ALIGNTO);
    return m;
}

std::optional<SaInfo> parse_sa(const nlmsghdr* h) {
    if (h->nlmsg_type != XFRM_MSG_NEWSA && h->nlmsg_type != XFRM_MSG_UPDSA) return std::nullopt;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_usersa_info))) return std::nullopt;
    auto info = from_usersa(read_struct<xfrm_usersa_info>(NLMSG_DATA(h)));
    Attrs a;
    if (a.parse(h, sizeof(xfrm_usersa_info))) fill_encap(info, a);
    return info;
}

std::optional<PolicyInfo> parse_policy(const nlmsghdr* h) {
    if (h->nlmsg_type != XFRM_MSG_NEWPOLICY && h->nlmsg_type != XFRM_MSG_UPDPOLICY)
        return std::nullopt;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_userpolicy_info))) return std::nullopt;
    auto info = read_struct<xfrm_userpolicy_info>(NLMSG_DATA(h));
    PolicyInfo p;
    p.sel = info.sel;
    p.dir = info.dir;
    p.index = info.index;
    Attrs a;
    if (a.parse(h, sizeof info) && a.tb[XFRMA_TMPL] &&
        nla_len(a.tb[XFRMA_TMPL]) >= int(sizeof(xfrm_user_tmpl)))
        p.reqid = read_struct<xfrm_user_tmpl>(nla_data(a.tb[XFRMA_TMPL])).reqid;
    return p;
}

std::optional<ExpireEvent> parse_expire(const nlmsghdr* h) {
    if (h->nlmsg_type != XFRM_MSG_EXPIRE ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_user_expire)))
        return std::nullopt;
    auto e = read_struct<xfrm_user_expire>(NLMSG_DATA(h));
    ExpireEvent ev;
    ev.sa = from_usersa(e.state);
    ev.hard = e.hard != 0;
    Attrs a;
    if (a.parse(h, sizeof e)) fill_encap(ev.sa, a);
    return ev;
}

std::optional<AcquireEvent> parse_acquire(const nlmsghdr* h) {
    if (h->nlmsg_type != XFRM_MSG_ACQUIRE ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_user_acquire)))
        return std::nullopt;
    auto acq = read_struct<xfrm_user_acquire>(NLMSG_DATA(h));
    AcquireEvent ev;
    ev.sel = acq.sel;
    ev.dir = acq.policy.dir;
    const int family = acq.policy.sel.family ? acq.policy.sel.family : acq.sel.family;
    Attrs a;
    if (a.parse(h, sizeof acq) && a.tb[XFRMA_TMPL] &&
        nla_len(a.tb[XFRMA_TMPL]) >= int(sizeof(xfrm_user_tmpl))) {
        auto t = read_struct<xfrm_user_tmpl>(nla_data(a.tb[XFRMA_TMPL]));
        ev.reqid = t.reqid;
        ev.src = from_xfrm(t.saddr, t.family);
        ev.dst = from_xfrm(t.id.daddr, t.family);
    } else {
        ev.src = from_xfrm(acq.saddr, family);
        ev.dst = from_xfrm(acq.id.daddr, family);
    }
    return ev;
}

std::optional<MappingEvent> parse_mapping(const nlmsghdr* h) {
    if (h->nlmsg_type != XFRM_MSG_MAPPING ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_user_mapping)))
        return std::nullopt;
    auto m = read_struct<xfrm_user_mapping>(NLMSG_DATA(h));
    MappingEvent ev;
    ev.spi = EspSpi(ntohl(m.id.spi));
    ev.dst = from_xfrm(m.id.daddr, m.id.family);
    ev.old_addr = from_xfrm(m.old_saddr, m.id.family);
    ev.new_addr = from_xfrm(m.new_saddr, m.id.family);
    ev.old_port = ntohs(m.old_sport);
    ev.new_port = ntohs(m.new_sport);
    ev.reqid = m.reqid;
    return ev;
}

}  // namespace postern::esp::xfrm
