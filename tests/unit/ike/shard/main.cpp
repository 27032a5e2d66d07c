#define BOOST_TEST_MODULE unit_ike_shard
#include <boost/test/unit_test.hpp>
