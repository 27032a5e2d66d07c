#include "daemon/kernel_dataplane.hpp"

#include <unistd.h>

#include "daemon/logging.hpp"
#include "daemon/tun_setup.hpp"

namespace postern::daemon {

namespace {

void log_xfrm(esp::xfrm::LogLevel level, const std::string& text) {
    auto& l = logger(Subsystem::Dp);
    switch (level) {
        case esp::xfrm::LogLevel::debug: l.debug("{}", text); break;
        case esp::xfrm::LogLevel::info: l.info("{}", text); break;
        case esp::xfrm::LogLevel::warning: l.warn("{}", text); break;
        case esp::xfrm::LogLevel::error: l.error("{}", text); break;
    }
}

}  // namespace

tl::expected<std::unique_ptr<esp::xfrm::XfrmDataPlane>, std::string> choose_kernel_dataplane() {
    if (auto ok = esp::xfrm::probe_kernel_esp(); !ok) return tl::unexpected(ok.error());
    return esp::xfrm::XfrmDataPlane::open({}, log_xfrm);
}

KernelDataPlaneLink::KernelDataPlaneLink(Server& server, esp::xfrm::XfrmDataPlane& dp)
    : server_(server), dp_(dp), events_(server.io_context()) {}

tl::expected<void, std::string> KernelDataPlaneLink::start(const Config& c) {
    for (const auto& s : server_.socket_list()) {
        const bool v6 = s.bound.address.is_v6();
        if (auto ok = esp::xfrm::bypass_policies(s.fd, v6); !ok)
            return tl::unexpected("UDP " + s.bound.to_string() + ": " + ok.error());
        if (s.natt)
            if (auto ok = esp::xfrm::enable_udp_encap(s.fd); !ok)
                return tl::unexpected("UDP " + s.bound.to_string() + ": " + ok.error());
    }
    enable_forwarding(c);
    dp_.set_lifetime_callback(
        [this](const esp::SaLifetimeEvent& e) { server_.on_lifetime_event(e); });
    // A duplicate: the stream_descriptor closes what it owns, the data plane keeps its socket.
    events_.assign(::dup(dp_.event_fd()));
    wait();
    return {};
}

void KernelDataPlaneLink::wait() {
    events_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](boost::system::error_code ec) {
                           if (ec) return;
                           dp_.process_events();
                           wait();
                       });
}

void KernelDataPlaneLink::shutdown() {
    boost::system::error_code ignored;
    events_.close(ignored);
    const auto& st = dp_.stats();
    const std::size_t n = dp_.shutdown();
    logger(Subsystem::Dp)
        .info(
            "kernel data plane: {} SAs installed, {} removed, {} install errors; expires {} soft, "
            "{} hard; {} acquires, {} NAT mapping changes, {} event overruns; {} kernel objects "
            "removed at shutdown",
            st.installed, st.removed, st.install_errors, st.soft_expires, st.hard_expires,
            st.acquires, st.mappings, st.events_lost, n);
}

}  // namespace postern::daemon
