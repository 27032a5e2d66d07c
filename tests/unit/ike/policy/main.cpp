#define BOOST_TEST_MODULE unit_ike_policy
#include <boost/test/unit_test.hpp>
