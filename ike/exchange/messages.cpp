#include "ike/exchange/context.hpp"
#include "ike/sa/protection.hpp"
#include "ike/wire/describe.hpp"

namespace postern::ike::exchange {

wire::Header make_header(const sa::IkeSa& sa, ExchangeType exchange, bool response, MessageId id) {
    wire::Header h;
    h.initiator_spi = sa.spi_i;
    h.responder_spi = sa.spi_r;
    h.exchange = exchange;
    h.initiator = sa.role == sa::Role::Initiator;
    h.response = response;
    h.message_id = id;
    return h;
}

std::vector<Bytes> encode(const Ctx& ctx, const sa::IkeSa& sa, const wire::Header& header,
                          const std::vector<wire::Payload>& inner) {
    if (header.exchange == ExchangeType::IKE_SA_INIT) {
        wire::Message m{header, inner};
        return {wire::serialize(m)};
    }
    if (!sa.cipher_out) return {};
    auto whole = sa::seal_message(header, {}, inner, *sa.cipher_out);
    // RFC 7383 §2.5: fragment only what would not fit, and only when the peer announced
    // IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT.
    const bool fragment = sa.peer_fragmentation && sa.connection && sa.connection->fragmentation;
    if (whole && (!fragment || whole->size() <= ctx.config.fragment_size)) return {*whole};
    if (!fragment) {
        ctx.log(&sa, "cannot build message: " + (whole ? std::string("?") : whole.error()));
        return {};
    }
    auto frags = sa::seal_fragments(header, inner, *sa.cipher_out, ctx.config.fragment_size);
    if (!frags) {
        ctx.log(&sa, "cannot fragment message: " + frags.error());
        return {};
    }
    return std::move(*frags);
}

void send_datagrams(const Ctx& ctx, const sa::IkeSa& sa, const std::vector<Bytes>& datagrams) {
    send_datagrams(ctx, sa.local, sa.remote, datagrams);
}

void send_datagrams(const Ctx& ctx, const Endpoint& local, const Endpoint& remote,
                    const std::vector<Bytes>& datagrams) {
    for (const auto& d : datagrams) {
        ctx.out.send.push_back(Datagram{local, remote, d});
        ++ctx.stats.sent;
    }
}

void send_request(const Ctx& ctx, sa::IkeSa& sa, ExchangeType exchange,
                  const std::vector<wire::Payload>& inner) {
    auto header = make_header(sa, exchange, false, sa.tasks.next_request_id());
    auto datagrams = encode(ctx, sa, header, inner);
    ctx.log(
        &sa,
        "sending " + wire::describe(header, inner) +
            (datagrams.size() > 1 ? " in " + std::to_string(datagrams.size()) + " fragments" : ""));
    send_datagrams(ctx, sa, datagrams);
    sa.tasks.start_request(std::move(datagrams), ctx.now);
}

void send_response(const Ctx& ctx, sa::IkeSa& sa, ExchangeType exchange, MessageId id,
                   const std::vector<wire::Payload>& inner) {
    if (sa.request_path && sa.request_path->id == id) {
        const auto path = *sa.request_path;
        return send_response_to(ctx, sa, exchange, id, inner, path.local, path.remote);
    }
    send_response_to(ctx, sa, exchange, id, inner, sa.local, sa.remote);
}

void send_response_to(const Ctx& ctx, sa::IkeSa& sa, ExchangeType exchange, MessageId id,
                      const std::vector<wire::Payload>& inner, const Endpoint& local,
                      const Endpoint& remote) {
    auto header = make_header(sa, exchange, true, id);
    auto datagrams = encode(ctx, sa, header, inner);
    ctx.log(&sa, "sending " + wire::describe(header, inner));
    send_datagrams(ctx, local, remote, datagrams);
    sa.tasks.store_response(id, std::move(datagrams));
}

}  // namespace postern::ike::exchange
