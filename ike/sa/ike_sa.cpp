#include "ike/sa/ike_sa.hpp"

#include "ike/engine_config.hpp"

namespace postern::ike::sa {

std::string_view to_string(IkeSaState s) {
    switch (s) {
        case IkeSaState::Created:
            return "CREATED";
        case IkeSaState::InitSent:
            return "INIT_SENT";
        case IkeSaState::HalfOpen:
            return "HALF_OPEN";
        case IkeSaState::AuthSent:
            return "AUTH_SENT";
        case IkeSaState::Established:
            return "ESTABLISHED";
        case IkeSaState::Rekeyed:
            return "REKEYED";
        case IkeSaState::Deleting:
            return "DELETING";
        case IkeSaState::Dead:
            return "DEAD";
    }
    return "?";
}

bool IkeSa::set_state(IkeSaState next) {
    using S = IkeSaState;
    bool ok = false;
    switch (state_) {
        case S::Created:
            // Established directly: an IKE SA made by rekeying one (§2.18).
            ok = next == S::InitSent || next == S::HalfOpen || next == S::Established ||
                 next == S::Dead;
            break;
        case S::InitSent:
            ok = next == S::AuthSent || next == S::Dead;
            break;
        case S::HalfOpen:
            ok = next == S::Established || next == S::Dead;
            break;
        case S::AuthSent:
            ok = next == S::Established || next == S::Dead;
            break;
        case S::Established:
            ok = next == S::Rekeyed || next == S::Deleting || next == S::Dead;
            break;
        case S::Rekeyed:
            ok = next == S::Deleting || next == S::Dead;
            break;
        case S::Deleting:
            ok = next == S::Dead;
            break;
        case S::Dead:
            ok = false;
            break;
    }
    if (ok) state_ = next;
    return ok;
}

void IkeSa::release_setup_state() {
    ke.reset();
    Bytes().swap(init_request);
    Bytes().swap(init_response);
    Bytes().swap(cookie);
    // The SK ciphers hold their own copies of SK_e/SK_a, and SK_p served AUTH only; SK_d
    // stays (CHILD_SA keys, rekeying).
    for (crypto::Secret* k : {&keys.sk_ai, &keys.sk_ar, &keys.sk_ei, &keys.sk_er, &keys.sk_pi,
                              &keys.sk_pr})
        *k = crypto::Secret();
}

std::string IkeSa::name() const {
    return (connection ? connection->name : std::string("?")) + "[" + std::to_string(id) + "] " +
           remote.to_string();
}

}  // namespace postern::ike::sa
