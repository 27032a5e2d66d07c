// The server's proposals (strongSwan syntax, postern.toml) in each client's vocabulary.
//
// A client profile can carry one algorithm set (Apple: one IKE and one Child dict; Windows:
// one Set-VpnConnectionIPsecConfiguration). We walk the server's proposals in its order of
// preference and, inside each, its transforms in order, and take the first combination the
// client can express, so the server's first choice wins whenever a client can use it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/ctl/profile_model.hpp"

namespace postern::ctl::profile {

// Apple's IKESecurityAssociationParameters / ChildSecurityAssociationParameters
// (apple/device-management com.apple.vpn.managed, VPN.IKEv2).
struct AppleSa {
    std::string encryption;  // AES-256-GCM, AES-128-GCM, AES-256, AES-128
    std::string integrity;   // SHA2-256/384/512; for AEAD IKE the PRF; empty for AEAD Child
    int dh_group = 0;        // IKE: the KE method; Child: the PFS group (0 = none)
    std::string source;      // the server proposal it came from
};

struct AppleChoice {
    AppleSa ike, child;
    bool pfs = false;  // EnablePFS: the server's ESP proposal requires a KE on rekey
};

// Set-VpnConnectionIPsecConfiguration's parameters (VpnClient module).
struct WindowsChoice {
    std::string encryption_method;         // AES128, AES192, AES256, GCMAES128, GCMAES256, DES3
    std::string integrity_check_method;    // SHA256, SHA384, SHA1 (also the PRF)
    std::string dh_group;                  // Group14, ECP256, ECP384, Group24, Group2
    std::string cipher_transform;          // AES128, AES192, AES256, GCMAES128/192/256, DES3
    std::string authentication_transform;  // SHA256128, SHA196, GCMAES128/192/256
    std::string pfs_group = "None";        // None, PFS2048, ECP256, ECP384, PFS24, PFS2
    std::string ike_source, esp_source;
    bool ike_gcm = false;  // the IKE SA uses AES-GCM: needs Windows 11
};

// Android's built-in client (Android 11+) offers a fixed set; this says whether the server
// accepts one of it, and which of the server's proposals matches.
struct AndroidNativeCheck {
    std::optional<std::string> ike, esp;  // the first server proposal Android can use
};

// The first proposal of each kind the strongSwan app takes (it accepts one of each).
struct StrongswanChoice {
    std::string ike, esp;
};

Result<AppleChoice> choose_apple(const ProfileInput& in);
Result<WindowsChoice> choose_windows(const ProfileInput& in);
AndroidNativeCheck check_android_native(const ProfileInput& in);
Result<StrongswanChoice> choose_strongswan(const ProfileInput& in);

// What each client supports, for error messages ("... Windows supports ...").
extern const char* const kAppleSupports;
extern const char* const kWindowsSupports;
extern const char* const kAndroidNativeSupports;

}  // namespace postern::ctl::profile
