#define BOOST_TEST_MODULE unit_plugins_lua
#include <boost/test/unit_test.hpp>
