// postern_esp_engine: see replay_window.hpp, esp_sa.hpp, esp_packet.hpp, tun_device.hpp.
// This file keeps the library non-empty while its parts arrive.
namespace postern::esp {}
