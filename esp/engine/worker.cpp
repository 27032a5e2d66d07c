#include "esp/engine/worker.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "esp/engine/steering.hpp"
#include "esp/engine/udp_offload.hpp"

namespace postern::esp {

namespace {

constexpr unsigned kMaxWorkers = 256;  // one TUN queue each (MAX_TAP_QUEUES)
constexpr int kBatchesPerWakeup = 4;   // per ready descriptor, before polling again
constexpr int kIdleRefreshMs = 1000;

// epoll tags: the kind in the high half, the socket index in the low half.
enum Tag : std::uint64_t { kTagWake = 0, kTagTun = 1, kTagUdp = 2, kTagRaw = 3 };
std::uint64_t tag(Tag kind, std::size_t index = 0) {
    return std::uint64_t{kind} << 32 | index;
}

// Error kinds reported once each (bits of errors_seen_).
enum ErrorKind : std::uint32_t {
    kErrTun = 1,
    kErrUdpSend = 2,
    kErrRawSend = 4,
    kErrRecv = 8,
    kErrNoSocket = 16,
    kErrGso = 32,
};

std::string errno_text(int e) {
    return std::strerror(e);
}

}  // namespace

unsigned default_worker_count() {
    if (const char* env = std::getenv("POSTERN_WORKERS"); env && *env) {
        char* end = nullptr;
        const unsigned long n = std::strtoul(env, &end, 10);
        if (end && *end == 0 && n >= 1 && n <= kMaxWorkers) return static_cast<unsigned>(n);
    }
    const unsigned cpus = std::thread::hardware_concurrency();
    return std::clamp(cpus, 1u, kMaxWorkers);
}

bool default_offloads() {
    const char* env = std::getenv("POSTERN_OFFLOADS");
    return !(env && std::strcmp(env, "0") == 0);
}

CoalescingTunWriter::CoalescingTunWriter(TunQueue queue, bool coalesce) : queue_(queue) {
    // TunQueue::write(hdr, ...) needs the header on the queue; the coalescer's 64 KiB buffer
    // is allocated here, once.
    if (coalesce && queue.vnet_hdr()) coalescer_ = std::make_unique<TcpCoalescer>();
}

bool CoalescingTunWriter::write_plain(ByteView ip_packet) {
    const ByteView one[1] = {ip_packet};
    auto r = queue_.write_batch(one);
    return r && r->consumed == 1 && r->rejected == 0;
}

bool CoalescingTunWriter::write_packet(ByteView ip_packet) {
    if (!coalescer_) return write_plain(ip_packet);
    switch (coalescer_->add(ip_packet)) {
        case CoalesceResult::merged:
            return true;
        case CoalesceResult::flush_first:
            flush();
            // A packet that was eligible starts a new run: merged.
            return coalescer_->add(ip_packet) == CoalesceResult::merged || write_plain(ip_packet);
        case CoalesceResult::not_eligible:
            break;
    }
    // Order within a flow: what was merged so far goes first.
    flush();
    return write_plain(ip_packet);
}

void CoalescingTunWriter::flush() {
    if (!coalescer_ || coalescer_->empty()) return;
    const CoalescedPacket c = coalescer_->flush();
    if (c.segments == 0) return;
    // One segment: the packet as it came, with an all-zero header (write() adds ours).
    const bool ok = static_cast<bool>(queue_.write(c.hdr, c.packet));
    if (!counters_) return;
    if (!ok) {
        // Already counted as delivered by the packet path; the loss shows here.
        counters_->bump(PathStat::tun_failed, c.segments);
    } else if (c.segments > 1) {
        counters_->bump(PathStat::coalesced_writes);
        counters_->bump(PathStat::coalesced_segments, c.segments);
    }
}

DataPlaneWorker::DataPlaneWorker(UserspaceDataPlane& dp, WorkerConfig config)
    : dp_(dp),
      config_(std::move(config)),
      tun_writer_(config_.tun, config_.offloads),
      recv_(dp.options().batch_size) {}

DataPlaneWorker::~DataPlaneWorker() {
    stop();
}

tl::expected<std::unique_ptr<DataPlaneWorker>, std::string> DataPlaneWorker::create(
    UserspaceDataPlane& dp, WorkerConfig config) {
    if (config.index >= dp.workers())
        return tl::unexpected("data-plane worker " + std::to_string(config.index) + ": only " +
                              std::to_string(dp.workers()) + " workers configured");
    std::unique_ptr<DataPlaneWorker> w(new DataPlaneWorker(dp, std::move(config)));
    if (auto ok = w->open(); !ok)
        return tl::unexpected("data-plane worker " + std::to_string(w->index()) + ": " +
                              ok.error());
    return w;
}

tl::expected<void, std::string> DataPlaneWorker::open() {
    const unsigned workers = dp_.workers();
    const std::size_t batch = dp_.options().batch_size;
    EspSender& sender = *this;
    path_ = std::make_unique<PacketPath>(dp_, config_.index, sender, tun_writer_);
    tun_writer_.set_counters(&path_->counters());
    offloads_.tun_coalesce = tun_writer_.coalescing();

    // One receive area for UDP and raw: a batch is processed before the next is received.
    recv_slot_ = 65536;  // the largest UDP payload or IPv4/IPv6 packet
    recv_storage_.resize(recv_slot_ * batch);
    for (std::size_t i = 0; i < batch; ++i)
        recv_.set_buffer(i, MutableByteView(recv_storage_).subspan(i * recv_slot_, recv_slot_));

    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) return tl::unexpected("epoll_create1: " + errno_text(errno));
    wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) return tl::unexpected("eventfd: " + errno_text(errno));
    auto watch = [&](int fd, std::uint64_t t, const std::string& what)
        -> tl::expected<void, std::string> {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = t;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) return {};
        return tl::unexpected("epoll_ctl(" + what + "): " + errno_text(errno));
    };
    if (auto ok = watch(wake_.get(), tag(kTagWake), "eventfd"); !ok) return ok;
    if (config_.tun.fd() >= 0)
        if (auto ok = watch(config_.tun.fd(), tag(kTagTun), "TUN queue"); !ok) return ok;

    bool want_v4 = false, want_v6 = false;
    bool all_gso = true, all_gro = true, any_receives = false;
    for (const auto& b : config_.natt) {
        (b.bound.address.is_v4() ? want_v4 : want_v6) = true;
        EspUdpSocket s;
        bool receives = false;
        if (config_.udp_steering) {
            auto opened = open_udp_reuseport(b.bound);
            if (!opened) return tl::unexpected(opened.error());
            s = std::move(*opened);
            // The program belongs to the group; every member attaches the same one, so the
            // group is steered from the first worker's bind on.
            if (auto ok = attach_udp_steering(s.fd.get(), workers); !ok)
                return tl::unexpected("UDP " + b.bound.to_string() + ": " + ok.error());
            receives = true;
        } else {
            if (b.ike_fd < 0)
                return tl::unexpected("UDP " + b.bound.to_string() +
                                      ": no IKE socket to send ESP-in-UDP on");
            s.bound = b.bound;
            s.fd.reset(::fcntl(b.ike_fd, F_DUPFD_CLOEXEC, 0));
            if (!s.fd) return tl::unexpected("dup(UDP " + b.bound.to_string() + "): " +
                                             errno_text(errno));
        }
        if (receives)
            if (auto ok = watch(s.fd.get(), tag(kTagUdp, udp_.size()), "UDP"); !ok) return ok;
        // UDP_GRO only on sockets this worker reads (a duplicate of the IKE thread's socket
        // is read there, with buffers sized for one datagram), and only with one worker: the
        // kernel's GRO merges datagrams by address and port, not by SPI, and the reuseport
        // program then steers the merged train by its first SPI, so with several workers a
        // train mixing two SAs of one peer would reach a worker owning only one of them (the
        // others would be dropped as misrouted).
        const UdpOffloads o =
            config_.offloads ? probe_udp_offloads(s.fd.get(), receives && workers == 1)
                             : UdpOffloads{};
        all_gso = all_gso && o.gso;
        if (receives) {
            any_receives = true;
            all_gro = all_gro && o.gro;
        }
        udp_.push_back(std::move(s));
        udp_receives_.push_back(receives);
        udp_batches_.push_back(std::make_unique<SendBatch>(batch));
        udp_batches_.back()->set_udp_gso(o.gso);
    }
    offloads_.udp_gso = !udp_.empty() && all_gso;
    offloads_.udp_gro = any_receives && all_gro;

    if (config_.plain_esp) {
        for (int family : {AF_INET, AF_INET6}) {
            if ((family == AF_INET && !want_v4) || (family == AF_INET6 && !want_v6)) continue;
            auto raw = open_esp_raw(family);
            if (!raw) {
                warnings_.push_back(raw.error() + "; no plain ESP on this worker");
                continue;
            }
            // Listening on one specific address of the family: plain ESP to that address
            // only, like the UDP sockets (a raw socket bound to an address sees only packets
            // to it, and sends from it).
            const NattBinding* only = nullptr;
            int of_family = 0;
            for (const auto& b : config_.natt)
                if (address_family(b.bound.address) == family) {
                    only = &b;
                    ++of_family;
                }
            if (of_family == 1 && !only->bound.address.is_unspecified()) {
                sockaddr_storage ss;
                const socklen_t len = to_sockaddr(Endpoint{only->bound.address, 0}, ss);
                if (::bind(raw->fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
                    return tl::unexpected("bind raw ESP socket to " +
                                          only->bound.address.to_string() + ": " +
                                          errno_text(errno));
            }
            if (auto ok = attach_esp_filter(raw->fd.get(), family, config_.index, workers); !ok)
                return tl::unexpected(std::string("raw ESP ") +
                                      (family == AF_INET ? "IPv4" : "IPv6") + ": " + ok.error());
            // Whatever arrived before the filter was attached is not necessarily ours.
            drain(raw->fd.get());
            if (auto ok = watch(raw->fd.get(), tag(kTagRaw, raw_.size()), "raw ESP"); !ok)
                return ok;
            raw_.push_back(std::move(*raw));
            raw_batches_.push_back(std::make_unique<SendBatch>(batch));
        }
    }
    return {};
}

bool DataPlaneWorker::has_raw(int family) const {
    return std::any_of(raw_.begin(), raw_.end(), [&](const auto& r) { return r.family == family; });
}

void DataPlaneWorker::start() {
    if (thread_.joinable()) return;
    stopping_.store(false, std::memory_order_relaxed);
    thread_ = std::thread([this] { run(); });
    char name[16];
    std::snprintf(name, sizeof name, "postern-dp%u", config_.index);
    ::pthread_setname_np(thread_.native_handle(), name);
}

void DataPlaneWorker::stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    // An eventfd write of 1 cannot fail short of a counter overflow; the flag is what counts.
    (void)!::write(wake_.get(), &one, sizeof one);
    thread_.join();
}

void DataPlaneWorker::error_once(std::uint32_t kind, const std::string& text) {
    if (errors_seen_ & kind) return;
    errors_seen_ |= kind;
    if (config_.on_error)
        config_.on_error("data-plane worker " + std::to_string(config_.index) + ": " + text +
                         " (further ones are counted silently)");
}

void DataPlaneWorker::run() {
    epoll_event events[16];
    const std::size_t batch = dp_.options().batch_size;
    while (!stopping_.load(std::memory_order_acquire)) {
        const int n = ::epoll_wait(epoll_.get(), events, 16, kIdleRefreshMs);
        if (n < 0) {
            if (errno == EINTR) continue;
            error_once(kErrRecv, "epoll_wait: " + errno_text(errno));
            break;
        }
        if (n == 0) {
            path_->refresh();
            continue;
        }
        for (int e = 0; e < n; ++e) {
            const std::uint64_t t = events[e].data.u64;
            const auto index = static_cast<std::size_t>(t & 0xffffffffu);
            switch (static_cast<Tag>(t >> 32)) {
                case kTagWake: {
                    std::uint64_t v;
                    (void)!::read(wake_.get(), &v, sizeof v);
                    break;
                }
                case kTagTun:
                    for (int k = 0; k < kBatchesPerWakeup; ++k) {
                        auto got = path_->run_tun_once(config_.tun);
                        if (!got) {
                            error_once(kErrTun, got.error());
                            break;
                        }
                        if (*got < path_->tun_batch(config_.tun)) break;
                    }
                    break;
                case kTagUdp:
                    for (int k = 0; k < kBatchesPerWakeup; ++k)
                        if (receive_udp(index) < batch) break;
                    break;
                case kTagRaw:
                    for (int k = 0; k < kBatchesPerWakeup; ++k)
                        if (receive_raw(index) < batch) break;
                    break;
            }
        }
    }
}

std::size_t DataPlaneWorker::receive_udp(std::size_t socket) {
    const long n = recv_.receive(udp_[socket].fd.get());
    if (n < 0) {
        // An ICMP error queued on the socket, typically: reported once, then read on.
        error_once(kErrRecv, "recvmmsg(UDP " + udp_[socket].bound.to_string() +
                                 "): " + errno_text(static_cast<int>(-n)));
        return 0;
    }
    PathCounters& c = path_->counters();
    if (n > 0) c.bump(PathStat::batches_in);
    for (long m = 0; m < n; ++m) {
        const auto i = static_cast<std::size_t>(m);
        std::uint8_t* data = recv_storage_.data() + i * recv_slot_;
        if (recv_.truncated(i)) {
            c.bump(PathStat::malformed);
            continue;
        }
        // With UDP_GRO a buffer may hold a train of datagrams of one flow (the last may be
        // shorter); without it, or for a lone datagram, the splitter yields the whole buffer.
        UdpGroSplitter split(ByteView(data, recv_.size(i)), recv_.gro_segment_size(i));
        if (const std::size_t k = split.count(); k > 1) {
            c.bump(PathStat::gro_buffers);
            c.bump(PathStat::gro_datagrams, k);
        }
        for (ByteView d; split.next(d);)
            receive_udp_datagram(socket, i, MutableByteView(data + (d.data() - data), d.size()));
    }
    // The coalesced run refers to recv_storage_, which the next recvmmsg overwrites.
    tun_writer_.flush();
    return static_cast<std::size_t>(n);
}

void DataPlaneWorker::receive_udp_datagram(std::size_t socket, std::size_t message,
                                           MutableByteView d) {
    PathCounters& c = path_->counters();
    const std::size_t size = d.size();
    const std::uint8_t* data = d.data();
    const bool keepalive = size == 1 && data[0] == 0xff;
    const bool marker = size >= 4 && !data[0] && !data[1] && !data[2] && !data[3];
    if (keepalive || marker) {
        // Only while the reuseport group is incomplete; the IKE thread decides.
        c.bump(keepalive ? PathStat::keepalives : PathStat::ike_forwarded);
        if (config_.on_ike) {
            IkeDatagram ike;
            ike.remote = recv_.from(message);
            ike.local = udp_[socket].bound;
            if (auto l = recv_.local(message)) ike.local.address = *l;
            ike.data = d;
            config_.on_ike(ike);
        }
        return;
    }
    if (size < kEspHeaderSize) {
        c.bump(PathStat::malformed);
        return;
    }
    c.bump(PathStat::esp_received);
    PacketBuffer buf{d, 0, size};
    path_->inbound_in_place(buf, recv_.from(message), true);
}

std::size_t DataPlaneWorker::receive_raw(std::size_t socket) {
    const EspRawSocket& raw = raw_[socket];
    const long n = recv_.receive(raw.fd.get());
    if (n < 0) {
        error_once(kErrRecv, "recvmmsg(raw ESP): " + errno_text(static_cast<int>(-n)));
        return 0;
    }
    PathCounters& c = path_->counters();
    if (n > 0) c.bump(PathStat::batches_in);
    for (long m = 0; m < n; ++m) {
        const auto i = static_cast<std::size_t>(m);
        const std::size_t size = recv_.size(i);
        std::uint8_t* data = recv_storage_.data() + i * recv_slot_;
        // IPv4 raw sockets hand over the IP header too; IPv6 ones only the payload.
        std::size_t offset = 0;
        if (raw.family == AF_INET && (offset = ipv4_payload_offset(data, size)) == 0) {
            c.bump(PathStat::malformed);
            continue;
        }
        if (recv_.truncated(i) || size - offset < kEspHeaderSize) {
            c.bump(PathStat::malformed);
            continue;
        }
        c.bump(PathStat::esp_received);
        PacketBuffer buf{MutableByteView(data, recv_slot_), offset, size - offset};
        path_->inbound_in_place(buf, recv_.from(i), false);
    }
    tun_writer_.flush();
    return static_cast<std::size_t>(n);
}

bool DataPlaneWorker::send_esp(ByteView esp_packet, const Endpoint& src, const Endpoint& dst,
                               bool udp_encap) {
    if (udp_encap) {
        // The socket on the SA's source address, else a wildcard one of its family.
        std::size_t best = udp_.size();
        for (std::size_t i = 0; i < udp_.size(); ++i) {
            const Endpoint& b = udp_[i].bound;
            if (b.address.family() != src.address.family()) continue;
            if (b.address == src.address) {
                best = i;
                break;
            }
            if (udp_[i].wildcard() && best == udp_.size()) best = i;
        }
        if (best == udp_.size()) {
            error_once(kErrNoSocket, "no NAT-T socket for ESP " + src.to_string() + " -> " +
                                         dst.to_string());
            return false;
        }
        SendBatch& b = *udp_batches_[best];
        if (b.full()) flush_one(udp_[best].fd.get(), b);
        b.add(esp_packet, dst, udp_[best].wildcard() ? &src.address : nullptr);
        return true;
    }
    for (std::size_t i = 0; i < raw_.size(); ++i) {
        if (raw_[i].family != address_family(dst.address)) continue;
        SendBatch& b = *raw_batches_[i];
        if (b.full()) flush_one(raw_[i].fd.get(), b);
        // Raw IPv6 sockets refuse a port other than 0 or their protocol.
        b.add(esp_packet, Endpoint{dst.address, 0}, &src.address);
        return true;
    }
    error_once(kErrNoSocket, "no raw ESP socket for plain ESP to " + dst.address.to_string());
    return false;
}

void DataPlaneWorker::flush_one(int fd, SendBatch& batch) {
    const auto r = batch.flush(fd);
    if (r.gso_sends) path_->counters().bump(PathStat::udp_gso_sends, r.gso_sends);
    if (r.gso_refused) {
        error_once(kErrGso, "UDP_SEGMENT send refused (" + errno_text(r.gso_error) +
                                "); ESP-in-UDP goes one datagram per message on this socket");
    }
    if (!r.failed) return;
    path_->counters().bump(PathStat::send_errors, r.failed);
    error_once(kErrUdpSend, "sendmmsg: " + errno_text(r.first_error));
}

void DataPlaneWorker::flush() {
    for (std::size_t i = 0; i < udp_.size(); ++i)
        if (!udp_batches_[i]->empty()) flush_one(udp_[i].fd.get(), *udp_batches_[i]);
    for (std::size_t i = 0; i < raw_.size(); ++i)
        if (!raw_batches_[i]->empty()) flush_one(raw_[i].fd.get(), *raw_batches_[i]);
}

}  // namespace postern::esp
