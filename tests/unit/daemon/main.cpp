#define BOOST_TEST_MODULE unit_daemon
#include <boost/test/unit_test.hpp>
