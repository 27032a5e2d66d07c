#define BOOST_TEST_MODULE unit_ike_crypto
#include <boost/test/unit_test.hpp>
