// Entry point of the SystemC testbenches. libsystemc's main() calls sc_main, as in every SystemC
// program; here sc_main runs the Catch2 session. CTest runs each test case in its own process, so each
// case may elaborate and sc_start() a platform of its own.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

namespace {
// The banner is printed before sc_main is called: silence it before main() runs.
const bool banner_off = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;
} // namespace

extern "C" int sc_main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
