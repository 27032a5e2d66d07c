#define BOOST_TEST_MODULE scenario_plugins
#include <boost/test/unit_test.hpp>
