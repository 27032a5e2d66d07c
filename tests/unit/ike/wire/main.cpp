#define BOOST_TEST_MODULE unit_ike_wire
#include <boost/test/unit_test.hpp>
