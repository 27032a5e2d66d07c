// Windows 10/11: a PowerShell script, run elevated, that sets up the built-in IKEv2 client with
// the VpnClient module (notes/native-clients.md §3.2):
//   1. the CA that issued the server's certificate into Cert:\LocalMachine\Root,
//   2. Add-VpnConnection -TunnelType IKEv2 -AuthenticationMethod Eap (EAP-MSCHAPv2), replacing a
//      connection of the same name,
//   3. Set-VpnConnectionIPsecConfiguration with one algorithm set the server accepts.
// Step 3 is the "hardened" form: Windows then offers exactly that one proposal instead of its
// defaults (3DES/AES-CBC, SHA1/SHA256, MODP-1024 only), which Postern refuses unless
// allow_legacy_crypto is on. The alternative for every connection of the machine is the
// registry value NegotiateDH2048_AES256 (explained in the script's comments).
#include <string>

#include "daemon/ctl/profile_model.hpp"
#include "daemon/ctl/profile_proposals.hpp"

namespace postern::ctl::profile {

Result<Profile> generate_windows(const ProfileInput& in) {
    auto crypto = choose_windows(in);
    if (!crypto) return tl::unexpected(crypto.error());
    const bool with_cert = in.auth != ClientAuth::eap_mschapv2;
    if (with_cert && in.p12.empty())
        return tl::unexpected(
            ProfileError{2, "connection \"" + in.connection +
                                "\" authenticates users with certificates: give "
                                "the user's certificate and key as a PKCS#12 file with --p12"});

    Profile profile;
    profile.target = Target::windows;
    std::string s;
    auto add = [&](std::string_view line) {
        s += line;
        s += "\r\n";  // Windows PowerShell 5.1 reads either; CRLF keeps Notepad happy
    };
    add("# Postern VPN for " + in.user + " to " + in.server_address + " (connection " +
        in.connection + "), made by `postern profile " + in.user + " --for windows`.");
    add("# Run in an elevated PowerShell (Windows 10/11):");
    add("#   powershell -ExecutionPolicy Bypass -File .\\<this file>.ps1");
    add("# Then connect from Settings > Network & Internet > VPN with the user name and password.");
    add("# The server's certificate must name " + in.server_address +
        " (a DNS name in its subjectAltName): Windows");
    add("# checks the address typed here against it (error 13801 when it does not match).");
    add("#Requires -RunAsAdministrator");
    add("$ErrorActionPreference = 'Stop'");
    add("");
    add("$Name = " + ps_quote(in.display_name()));
    add("$Server = " + ps_quote(in.server_address));
    add("");

    if (!in.ca_der.empty()) {
        add("# 1. The CA that issued the server's certificate: " + in.ca_subject);
        add("$CaBase64 = @'");
        s += base64_lines(in.ca_der, 64);
        // base64_lines ends each line with \n; here-strings accept it.
        add("'@");
        add("$CaFile = Join-Path $env:TEMP 'postern-ca-" + profile_uuid(in, "ca").substr(0, 8) +
            ".cer'");
        add("[IO.File]::WriteAllBytes($CaFile, [Convert]::FromBase64String(($CaBase64 -replace "
            "'\\s', '')))");
        add("Import-Certificate -FilePath $CaFile -CertStoreLocation Cert:\\LocalMachine\\Root | "
            "Out-Null");
        add("Remove-Item $CaFile");
    } else {
        add("# 1. No CA in the server's configuration: Windows must already trust the server's "
            "certificate.");
        profile.warnings.push_back(
            "no CA certificate in [pki] cacerts: Windows must already trust the server's "
            "certificate");
    }
    add("");

    if (with_cert) {
        // EAP-TLS with -UserCertificate looks in the user's store; machine certificate
        // authentication (pubkey) in the machine's.
        const bool user_store = in.auth == ClientAuth::eap_tls;
        add(std::string("# The user's certificate and key (PKCS#12), into the ") +
            (user_store ? "user's" : "machine") + " store.");
        add("$P12Base64 = @'");
        s += base64_lines(in.p12, 64);
        add("'@");
        add("$P12File = Join-Path $env:TEMP 'postern-user-" +
            profile_uuid(in, "identity").substr(0, 8) + ".p12'");
        add("[IO.File]::WriteAllBytes($P12File, [Convert]::FromBase64String(($P12Base64 -replace "
            "'\\s', '')))");
        add("$P12Password = Read-Host -AsSecureString 'Password of the PKCS#12 file'");
        add(std::string("Import-PfxCertificate -FilePath $P12File -CertStoreLocation Cert:\\") +
            (user_store ? "CurrentUser" : "LocalMachine") +
            "\\My -Password $P12Password | Out-Null");
        add("Remove-Item $P12File");
        add("");
    }

    add("# 2. The connection (an older one of the same name is replaced).");
    add("if (Get-VpnConnection -Name $Name -ErrorAction SilentlyContinue) {");
    add("    Remove-VpnConnection -Name $Name -Force");
    add("}");
    std::string add_vpn = "Add-VpnConnection -Name $Name -ServerAddress $Server -TunnelType IKEv2 ";
    switch (in.auth) {
        case ClientAuth::eap_mschapv2:
            add("$Eap = New-EapConfiguration  # EAP-MSCHAPv2, user name and password");
            add_vpn += "-AuthenticationMethod Eap -EapConfigXmlStream $Eap.EapConfigXmlStream ";
            break;
        case ClientAuth::eap_tls:
            add("$Eap = New-EapConfiguration -Tls -UserCertificate -VerifyServerIdentity");
            add_vpn += "-AuthenticationMethod Eap -EapConfigXmlStream $Eap.EapConfigXmlStream ";
            break;
        case ClientAuth::pubkey:
            add_vpn += "-AuthenticationMethod MachineCertificate ";
            break;
    }
    add_vpn += "-EncryptionLevel Required -RememberCredential";
    if (!full_tunnel(in)) add_vpn += " -SplitTunneling";
    add(add_vpn + " -Force");
    if (!full_tunnel(in))
        for (const auto& ts : in.remote_ts)
            add("Add-VpnConnectionRoute -ConnectionName $Name -DestinationPrefix " + ts);
    add("");

    add("# 3. One algorithm set, taken from the server's proposals:");
    add("#      IKE  " + crypto->ike_source);
    add("#      ESP  " + crypto->esp_source);
    if (crypto->ike_gcm)
        add("#    AES-GCM for the IKE SA needs Windows 11 (the server offers no AES-CBC "
            "proposal).");
    add("#    Windows then offers only this set. The alternative for all connections of this "
        "machine,");
    add("#    without this command, is the registry value (then reboot):");
    add("#      reg add HKLM\\SYSTEM\\CurrentControlSet\\Services\\RasMan\\Parameters /v "
        "NegotiateDH2048_AES256 /t REG_DWORD /d 1 /f");
    add("#    which adds AES-256-CBC + SHA-1/SHA-256 + MODP-2048 (aes256-sha256-modp2048) to "
        "Windows' defaults");
    add("#    (=2 enforces it). Unmodified Windows offers only MODP-1024 and ESP with SHA-1.");
    if (in.allow_legacy)
        add("#    This server has allow_legacy_crypto = true: if it lists e.g. "
            "aes256-sha1-modp1024, Windows' defaults work without step 3.");
    add("Set-VpnConnectionIPsecConfiguration -ConnectionName $Name `");
    add("    -EncryptionMethod " + crypto->encryption_method + " -IntegrityCheckMethod " +
        crypto->integrity_check_method + " -DHGroup " + crypto->dh_group + " `");
    add("    -CipherTransformConstants " + crypto->cipher_transform +
        " -AuthenticationTransformConstants " + crypto->authentication_transform + " `");
    add("    -PfsGroup " + crypto->pfs_group + " -Force");
    add("");
    add("Write-Host ('VPN ' + $Name + ' to ' + $Server + ' is ready; connect as ' + " +
        ps_quote(in.user) + " + ' from Settings > Network & Internet > VPN.')");
    profile.files.push_back({"ps1", "", s, false});
    return profile;
}

}  // namespace postern::ctl::profile
