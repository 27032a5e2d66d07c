// Steering inbound packets to the data-plane worker that owns their SA, in the kernel, with
// classic BPF (no eBPF, no privileges beyond the sockets themselves).
//
// Ownership rule. Worker w of N owns every inbound SA whose SPI satisfies SPI % N == w
// (esp_owner() below). Only the owner ever decapsulates packets of that SA, so its replay
// window (replay_window.hpp) has exactly one writer and needs no lock or atomics, and its
// packets are never reordered between threads. The IKE engine picks our inbound SPIs at random,
// so SAs spread evenly over the workers.
//
// UDP 4500 (ESP-in-UDP, RFC 3948). The IKE thread's socket and one socket per worker are bound
// to the same address and port with SO_REUSEPORT: one reuseport group per bound address. The
// group's socket array is in bind order (the IKE socket first, index 0; worker w's socket at
// index 1 + w), which the worker tests verify on the running kernel. The group program
// (SO_ATTACH_REUSEPORT_CBPF) sees the datagram from the UDP payload on and returns the index:
//
//     ld   [0]               first four octets; a datagram shorter than that (a NAT keepalive,
//                            0xFF) aborts the program, which then returns 0: the IKE socket
//     jeq  #0, ike           the non-ESP marker: an IKE message -> index 0
//     mod  #N                otherwise the SPI
//     add  #1
//     ret  a                 -> worker (SPI % N) at index 1 + SPI % N
//   ike:
//     ret  #0
//
// An index the group does not have (a worker's socket is not bound yet, or closed) makes the
// kernel fall back to its flow hash, so packets can reach the wrong socket only while the
// group is incomplete; the worker drops ESP it does not own and hands IKE to the IKE thread.
//
// Plain ESP (IP protocol 50). Every raw IPPROTO_ESP socket gets a copy of every ESP packet, so
// each worker's raw socket carries a socket filter (SO_ATTACH_FILTER) that keeps only its own
// SPIs. IPv4 raw sockets see the IP header (variable length), IPv6 raw sockets only the
// payload:
//
//     IPv4: ldx 4*([0]&0xf); ld [x+0]      IPv6: ld [0]
//           mod #N; jeq #w, keep, drop           mod #N; jeq #w, keep, drop
//     keep: ret #0xffffffff  (the whole packet)   drop: ret #0
#pragma once

#include <cstdint>
#include <string>

#include <tl/expected.hpp>

namespace postern::esp {

// The worker that owns inbound SPI `spi` among `workers` workers.
inline unsigned esp_owner(std::uint32_t spi, unsigned workers) {
    return workers ? spi % workers : 0;
}

// Attaches the UDP 4500 steering program to the reuseport group of `fd` (a bound UDP socket
// with SO_REUSEPORT). Index 0 of the group must be the IKE socket, 1 + w worker w's.
tl::expected<void, std::string> attach_udp_steering(int fd, unsigned workers);

// Whether this kernel takes the UDP steering program (SO_ATTACH_REUSEPORT_CBPF, Linux 4.5):
// tried on a throwaway socket bound to an ephemeral port. The error says why not.
tl::expected<void, std::string> probe_udp_steering();

// Attaches the plain-ESP filter of worker `worker` of `workers` to a raw IPPROTO_ESP socket of
// `family` (AF_INET: the program skips the IPv4 header; AF_INET6: the SPI is at offset 0).
tl::expected<void, std::string> attach_esp_filter(int fd, int family, unsigned worker,
                                                  unsigned workers);

}  // namespace postern::esp
