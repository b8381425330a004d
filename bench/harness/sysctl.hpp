// Harness: the kernel limits a peer's capacity depends on (pipe-max-size, the POSIX mq limits), read from /proc.
// May touch: reads the file it is given. Nothing else.
#pragma once

#include <fstream>

namespace shmring_bench {

/// The number in the file at path (e.g. /proc/sys/fs/pipe-max-size); fallback if it cannot be read.
inline long read_long(const char* path, long fallback) {
  std::ifstream f(path);
  long v = fallback;
  return (f >> v) ? v : fallback;
}

}  // namespace shmring_bench
