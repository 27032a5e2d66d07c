#define BOOST_TEST_MODULE unit_ctl
#include <boost/test/unit_test.hpp>
