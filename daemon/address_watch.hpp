// AddressWatch: tells posternd when the host's IPv4/IPv6 addresses change (rtnetlink address
// groups), so that IKE SAs it initiated with MOBIKE can move to a new local address
// (ike::Engine::local_address_changed). The events are not parsed: any burst of them makes the
// owner look up, per IKE SA, which source address the kernel now picks for the peer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <tl/expected.hpp>

namespace postern::daemon {

class AddressWatch {
  public:
    // `changed` runs on the io_context's thread, once per readable burst of events.
    AddressWatch(boost::asio::io_context& io, std::function<void()> changed);
    AddressWatch(const AddressWatch&) = delete;
    AddressWatch& operator=(const AddressWatch&) = delete;

    tl::expected<void, std::string> start();

  private:
    void arm();

    boost::asio::posix::stream_descriptor sd_;
    std::function<void()> changed_;
    std::array<std::uint8_t, 8192> buf_{};
};

}  // namespace postern::daemon
