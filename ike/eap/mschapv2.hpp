// MS-CHAPv2 primitives (RFC 2759 §8) and the MPPE keys derived from them (RFC 3079 §3).
//
// MD4 and DES come from OpenSSL's legacy provider, loaded into an OSSL_LIB_CTX of its own so
// the rest of the process never sees legacy algorithms; SHA-1 comes from the default context.
// When the legacy provider cannot be loaded, the functions that need it return an error.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ike/crypto/secret.hpp"
#include "ike/eap/eap_method.hpp"
#include "postern/bytes.hpp"

namespace postern::ike::eap {

inline constexpr std::size_t kChallengeSize = 16;   // authenticator and peer challenge
inline constexpr std::size_t kNtHashSize = 16;      // NtPasswordHash
inline constexpr std::size_t kNtResponseSize = 24;  // NT-Response
inline constexpr std::size_t kMskSize = 64;         // see msk()
inline constexpr std::size_t kMaxPasswordChars =
    256;  // RFC 2759 §8.1: "0-to-256-unicode-char Password"

using Challenge = std::array<std::uint8_t, kChallengeSize>;
using NtResponse = std::array<std::uint8_t, kNtResponseSize>;
using AuthenticatorDigest = std::array<std::uint8_t, 20>;

// UTF-8 to UTF-16LE (code points above U+FFFF as surrogate pairs). Invalid UTF-8 (overlong
// forms, surrogates, beyond U+10FFFF, truncated sequences) is an error with its offset.
Result<crypto::Secret> utf8_to_utf16le(std::string_view utf8);

// RFC 2759 §8.3 NtPasswordHash: MD4 of the password in UTF-16LE. The password is UTF-8 and at
// most kMaxPasswordChars UTF-16 code units.
Result<crypto::Secret> nt_password_hash(std::string_view password_utf8);
// RFC 2759 §8.4 HashNtPasswordHash: MD4(NtPasswordHash).
Result<crypto::Secret> hash_nt_password_hash(ByteView nt_hash);

// The user name as ChallengeHash wants it: anything up to the last '\' ("DOMAIN\user") is
// dropped (RFC 2759 §4: "the user name ... without the domain").
std::string_view strip_domain(std::string_view user_name);

// RFC 2759 §8.2 ChallengeHash: the first 8 octets of SHA1(PeerChallenge | AuthenticatorChallenge
// | UserName). user_name is used as given (strip the domain first).
std::array<std::uint8_t, 8> challenge_hash(const Challenge& peer_challenge,
                                           const Challenge& authenticator_challenge,
                                           std::string_view user_name);

// RFC 2759 §8.5 ChallengeResponse: the NT hash zero-padded to 21 octets, split into three 7-octet
// DES keys (each spread over 8 octets with odd parity, §8.6), each encrypting the challenge hash.
Result<NtResponse> challenge_response(ByteView challenge_hash8, ByteView nt_hash);

// RFC 2759 §8.1 GenerateNTResponse, from the NT hash (the server never sees the password).
Result<NtResponse> generate_nt_response(const Challenge& authenticator_challenge,
                                        const Challenge& peer_challenge, std::string_view user_name,
                                        ByteView nt_hash);

// RFC 2759 §8.7 GenerateAuthenticatorResponse: the 20-octet digest and its text form
// "S=" + 40 upper-case hex digits.
Result<AuthenticatorDigest> authenticator_digest(ByteView nt_hash, const NtResponse& nt_response,
                                                 const Challenge& peer_challenge,
                                                 const Challenge& authenticator_challenge,
                                                 std::string_view user_name);
Result<std::string> generate_authenticator_response(ByteView nt_hash, const NtResponse& nt_response,
                                                    const Challenge& peer_challenge,
                                                    const Challenge& authenticator_challenge,
                                                    std::string_view user_name);
// RFC 2759 §8.8 CheckAuthenticatorResponse: received is "S=" + 40 hex digits (either case);
// the digests are compared in constant time. Any other form is a mismatch.
bool check_authenticator_response(std::string_view received, const AuthenticatorDigest& expected);

// RFC 3079 §3.4 GetMasterKey: the first 16 octets of SHA1(PasswordHashHash | NT-Response |
// Magic1).
crypto::Secret get_master_key(ByteView password_hash_hash, const NtResponse& nt_response);
// RFC 3079 §3.4 GetAsymmetricStartKey: the first length (<= 20) octets of SHA1(MasterKey |
// SHSpad1 | Magic | SHSpad2), Magic2 for the client's send and the server's receive key, Magic3
// for the others.
crypto::Secret get_asymmetric_start_key(ByteView master_key, std::size_t length, bool is_send,
                                        bool is_server);

// The 64-octet MSK of EAP-MSCHAPv2 as IKEv2 implementations use it for AUTH (RFC 7296 §2.16):
//   MasterReceiveKey (16, Magic2) | MasterSendKey (16, Magic3) | 32 zero octets
// i.e. the server's receive key then its send key, on both sides. This is what strongSwan's
// eap_mschapv2 plugin returns from get_msk(): GenerateMSK() in
// src/libcharon/plugins/eap_mschapv2/eap_mschapv2.c builds
//   chunk_cat("cccc", master_receive_key, master_send_key, keypad, keypad)
// with master_receive_key hashed with Magic2 ("On the client side, this is the send key; on the
// server side, it is the receive key."), master_send_key with Magic3 and keypad 16 zero octets;
// it is the same layout as draft-kamath-pppext-eap-mschapv2 §2.5 and Windows' MPPE keys.
Result<crypto::Secret> msk(ByteView nt_hash, const NtResponse& nt_response);

}  // namespace postern::ike::eap
