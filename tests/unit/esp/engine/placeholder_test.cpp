// Removed once the engine's own tests arrive; keeps the module non-empty meanwhile.
#include <boost/test/unit_test.hpp>

#include "postern/dataplane.hpp"

BOOST_AUTO_TEST_CASE(selector_defaults_cover_every_port) {
    postern::Selector s;
    BOOST_TEST(s.start_port == 0);
    BOOST_TEST(s.end_port == 0xffff);
    BOOST_TEST(s.ip_protocol == 0);
}
