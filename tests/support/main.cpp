// The test runner's main: Catch2, or, when started as `<test binary> --child NAME ARGS...`, the child function
// NAME registered with SHMRING_CHILD (cross-process tests re-run their own binary as the peer process).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "child_registry.hpp"

#include <cstring>

int main(int argc, char* argv[]) {
  if (argc >= 3 && std::strcmp(argv[1], "--child") == 0) return shmring_test::run_child(argc, argv);
  return Catch::Session().run(argc, argv);
}
