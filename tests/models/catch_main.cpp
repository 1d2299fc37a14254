// Catch2's main for the SystemC testbenches. libsystemc also provides a main() that calls sc_main();
// defining ours here takes precedence, and the test cases elaborate and sc_start() themselves.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
