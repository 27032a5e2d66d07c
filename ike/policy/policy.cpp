// postern_ike_policy: see identity.hpp, proposal_select.hpp, traffic_selector.hpp,
// address_pool.hpp. This file keeps the library non-empty while its parts arrive.
namespace postern::ike::policy {}
