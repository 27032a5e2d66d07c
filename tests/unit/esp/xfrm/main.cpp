#define BOOST_TEST_MODULE esp_xfrm
#include <boost/test/unit_test.hpp>
