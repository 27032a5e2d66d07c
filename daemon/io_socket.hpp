// One UDP socket of posternd on one listen address and port. Receives with recvmsg on the
// native handle so the local (destination) address of each datagram is known (IP_PKTINFO /
// IPV6_RECVPKTINFO) and sends with that address as the source: on a multi-homed host a reply
// leaves from the address the request came to, even when the socket is bound to 0.0.0.0 or ::.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <tl/expected.hpp>

#include "postern/bytes.hpp"
#include "postern/net.hpp"

namespace postern::daemon {

struct Received {
    Endpoint local, remote;
    ByteView data;
};

class UdpSocket {
  public:
    using Handler = std::function<void(UdpSocket&, const Received&)>;

    // Binds address:port (v6 sockets with IPV6_V6ONLY). The error says what failed and why.
    // With `reuseport` the socket sets SO_REUSEPORT before binding, so the data-plane workers'
    // sockets can join its reuseport group after it (it is index 0 of the group: the IKE
    // socket of esp/engine/steering.hpp). The port must still be free: a probe bind without
    // SO_REUSEPORT comes first, so another daemon on the port is an error, not a silent
    // sharer of its datagrams.
    static tl::expected<std::unique_ptr<UdpSocket>, std::string> open(boost::asio::io_context& io,
                                                                      const IpAddress& address,
                                                                      std::uint16_t port,
                                                                      bool reuseport = false);

    // Calls `handler` for each datagram until close().
    void start(Handler handler);
    // Sends `data` to `to`, from `from.address` when the socket is bound to a wildcard and
    // `from` is a specific address.
    tl::expected<void, std::string> send(const Endpoint& from, const Endpoint& to, ByteView data);
    void close();

    const Endpoint& bound() const { return bound_; }
    // The socket's descriptor (the data-plane workers duplicate it to send ESP-in-UDP when the
    // kernel cannot steer the reuseport group).
    int native_handle() { return socket_.native_handle(); }
    bool wildcard() const { return bound_.address.is_unspecified(); }

  private:
    explicit UdpSocket(boost::asio::io_context& io) : socket_(io) {}
    void wait();
    void drain();

    boost::asio::ip::udp::socket socket_;
    Endpoint bound_;
    Handler handler_;
    Bytes buffer_ = Bytes(65536);
};

// The source address the kernel would pick to reach `remote` (a connected UDP socket that
// sends nothing), for initiating from a socket bound to a wildcard address.
std::optional<IpAddress> source_address_for(const IpAddress& remote);

}  // namespace postern::daemon
