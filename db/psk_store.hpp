// Pre-shared keys per IKE identity (RFC 7296 §2.15): the PSK itself, since computing or
// checking an AUTH payload needs it. Secrets come back in a wiping buffer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "ike/crypto/secret.hpp"

namespace postern::db {

class PskStore {
  public:
    explicit PskStore(Database& db) : db_(db) {}

    // Adds or replaces the PSK of `identity` (the identity's text, as in IDi/IDr).
    Result<void> set(std::string_view identity, ByteView secret);
    // not_found for an identity without a PSK.
    Result<ike::crypto::Secret> get(std::string_view identity);
    Result<void> remove(std::string_view identity);
    Result<std::vector<std::string>> identities();  // sorted

  private:
    Database& db_;
};

}  // namespace postern::db
