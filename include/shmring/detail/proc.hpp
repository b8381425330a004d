// shmring: the few facts about this process and the clocks that the attach protocol records, and the backoff of
// its bounded retry loops. Plain POSIX calls: no iostreams, no <thread>, so the umbrella header stays cheap to
// compile.
// May touch: /proc/<pid>/stat (read), the clocks, the scheduler (sched_yield, nanosleep).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

namespace shmring::detail {

/// CLOCK_REALTIME in ns (attach and creation times, for display).
inline std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// CLOCK_MONOTONIC in ns: the record timestamp (vDSO, no system call on x86-64/aarch64 Linux).
inline std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if unknown.
inline std::uint64_t process_start_time(long pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  std::size_t len = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf + len, sizeof buf - 1 - len);
    if (n > 0 && (len += static_cast<std::size_t>(n)) < sizeof buf - 1) continue;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fd);
  buf[len] = '\0';
  // The command name (field 2) is in parentheses and may contain anything, ')' included: fields resume after
  // the last ')'. Field 3 follows it after one space.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return 0;
  ++p;
  for (int field = 3; field < 22; ++field) {
    while (*p == ' ') ++p;
    while (*p != ' ' && *p != '\0') ++p;
    if (*p == '\0') return 0;
  }
  while (*p == ' ') ++p;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(p, &end, 10);
  return end != p ? static_cast<std::uint64_t>(v) : 0;
}

/// The backoff of a bounded retry loop (lock, readiness), round i: yield the core 64 times, then sleep 200 us.
inline void backoff(unsigned i) noexcept {
  if (i < 64) {
    ::sched_yield();
    return;
  }
  timespec ts{0, 200'000};
  ::nanosleep(&ts, nullptr);
}

}  // namespace shmring::detail
