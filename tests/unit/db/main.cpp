#define BOOST_TEST_MODULE unit_db
#include <boost/test/unit_test.hpp>
