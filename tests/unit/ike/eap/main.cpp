#define BOOST_TEST_MODULE unit_ike_eap
#include <boost/test/unit_test.hpp>
