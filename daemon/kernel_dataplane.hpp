// posternd with the kernel data plane (server.dataplane = "kernel", or "auto" on a kernel that
// can install an ESP SA): choosing it, and wiring esp/xfrm's XfrmDataPlane to the IKE thread.
//
//   choose_kernel_dataplane  probes the kernel (probe_kernel_esp) and opens the data plane
//                            (which sweeps what an earlier posternd left); the error says why
//                            not, for "kernel" to refuse to start and "auto" to fall back
//   KernelDataPlaneLink      after Server::open(): IKE sockets bypass IPsec policies, the
//                            NAT-T sockets get UDP_ENCAP_ESPINUDP (the kernel decapsulates
//                            ESP-in-UDP, IKE still arrives), forwarding is turned on where a
//                            connection needs it, and the XFRM event socket is watched on the
//                            server's loop: expires go to Server::on_lifetime_event like the
//                            userspace engine's, the rest is logged. shutdown() removes
//                            everything the data plane installed.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <tl/expected.hpp>

#include "daemon/config.hpp"
#include "daemon/io_server.hpp"
#include "esp/xfrm/xfrm_dataplane.hpp"

namespace postern::daemon {

tl::expected<std::unique_ptr<esp::xfrm::XfrmDataPlane>, std::string> choose_kernel_dataplane();

class KernelDataPlaneLink {
  public:
    KernelDataPlaneLink(Server& server, esp::xfrm::XfrmDataPlane& dp);
    // The error names the socket and the option that failed.
    tl::expected<void, std::string> start(const Config& c);
    // Logs the data plane's counters and removes everything it installed.
    void shutdown();

  private:
    void wait();

    Server& server_;
    esp::xfrm::XfrmDataPlane& dp_;
    boost::asio::posix::stream_descriptor events_;
};

}  // namespace postern::daemon
