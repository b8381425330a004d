// Harness: how a benchmark process gives up when its setup or a system call fails (a benchmark that cannot
// trust its transport has nothing to report).
// May touch: stderr and the exit of the calling process. Nothing else.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace shmring_bench {

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "shmring_bench: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(3);
}

}  // namespace shmring_bench
