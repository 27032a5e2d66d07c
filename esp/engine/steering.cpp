#include "esp/engine/steering.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace postern::esp {

namespace {

sock_filter op(std::uint16_t code, std::uint32_t k, std::uint8_t jt = 0, std::uint8_t jf = 0) {
    return sock_filter{code, jt, jf, k};
}

tl::expected<void, std::string> attach(int fd, int option, const char* name,
                                       std::vector<sock_filter>& prog) {
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(prog.size());
    fprog.filter = prog.data();
    if (::setsockopt(fd, SOL_SOCKET, option, &fprog, sizeof fprog) != 0)
        return tl::unexpected(std::string("setsockopt(") + name + "): " + std::strerror(errno));
    return {};
}

}  // namespace

tl::expected<void, std::string> attach_udp_steering(int fd, unsigned workers) {
    if (workers == 0) return tl::unexpected(std::string("UDP steering: no workers"));
    std::vector<sock_filter> prog = {
        op(BPF_LD | BPF_W | BPF_ABS, 0),                // A = first word (aborts -> 0 if short)
        op(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0),         // non-ESP marker: to `ike`
        op(BPF_ALU | BPF_MOD | BPF_K, workers),         // A = SPI % N
        op(BPF_ALU | BPF_ADD | BPF_K, 1),               // A = 1 + SPI % N
        op(BPF_RET | BPF_A, 0),                         // worker's socket
        op(BPF_RET | BPF_K, 0),                         // ike: the IKE socket
    };
    return attach(fd, SO_ATTACH_REUSEPORT_CBPF, "SO_ATTACH_REUSEPORT_CBPF", prog);
}

tl::expected<void, std::string> probe_udp_steering() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return tl::unexpected(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    sockaddr_in any{};
    any.sin_family = AF_INET;
    tl::expected<void, std::string> r;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        r = tl::unexpected(std::string("setsockopt(SO_REUSEPORT): ") + std::strerror(errno));
    else if (::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
        r = tl::unexpected(std::string("bind: ") + std::strerror(errno));
    else
        r = attach_udp_steering(fd, 2);
    ::close(fd);
    return r;
}

tl::expected<void, std::string> attach_esp_filter(int fd, int family, unsigned worker,
                                                  unsigned workers) {
    if (workers == 0 || worker >= workers)
        return tl::unexpected("ESP filter: worker " + std::to_string(worker) + " of " +
                              std::to_string(workers));
    std::vector<sock_filter> prog;
    if (family == AF_INET) {
        prog.push_back(op(BPF_LDX | BPF_B | BPF_MSH, 0));  // X = IPv4 header length
        prog.push_back(op(BPF_LD | BPF_W | BPF_IND, 0));   // A = SPI (aborts -> drop if short)
    } else {
        prog.push_back(op(BPF_LD | BPF_W | BPF_ABS, 0));  // A = SPI
    }
    prog.push_back(op(BPF_ALU | BPF_MOD | BPF_K, workers));
    prog.push_back(op(BPF_JMP | BPF_JEQ | BPF_K, worker, 0, 1));
    prog.push_back(op(BPF_RET | BPF_K, 0xffffffffu));  // keep the whole packet
    prog.push_back(op(BPF_RET | BPF_K, 0));            // drop
    return attach(fd, SO_ATTACH_FILTER, "SO_ATTACH_FILTER", prog);
}

}  // namespace postern::esp
