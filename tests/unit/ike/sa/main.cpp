#define BOOST_TEST_MODULE unit_ike_sa
#include <boost/test/unit_test.hpp>
