// One side of a ring, built outside CMake's compiler choice: tests/layout/CMakeLists.txt compiles this file with
// g++, with clang++ and with g++ -m32, and tests/layout/cross/run.cmake runs the builds against each other.
//   peer info                          prints the build's pointer size and layout constants
//   peer produce NAME COUNT [u64]      open_or_create as producer, push COUNT records (or u64 values), then
//                                      print "checksum <n>" on stdout
//   peer consume NAME COUNT [u64]      open_or_create as consumer, pop and check every field of COUNT records,
//                                      then read the producer's "checksum <n>" line from stdin and compare
//   peer create-huge NAME LOG2CAP      create a persistent record ring of 2^LOG2CAP slots (sparse) and exit
//   peer open-huge NAME                open it as a consumer
//   peer futex-check NAME              checks that the kernel reads the futex timeout the library means (below)
// Exit codes: 0 ok; 2 a wrong value (the field is named on stderr); 3 checksum mismatch; 4 usage; 5 a futex check;
// 10 + shmring::errc when shmring threw (e.g. 20 = element_mismatch, 22 = layout_mismatch).
#include <shmring/shmring.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include <linux/futex.h>
#if __has_include(<linux/time_types.h>)
#include <linux/time_types.h>
#else  // kernel headers before 5.1: the kernel's definition, spelled out
struct __kernel_timespec {
  long long tv_sec;
  long long tv_nsec;
};
#endif
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// The futex timeout as the kernel reads it (issue 12). Structural half, at compile time: the library's struct is
// the kernel's __kernel_timespec, which both SYS_futex on 64-bit ABIs and SYS_futex_time64 on 32-bit ones read.
// (On -m32 -D_TIME_BITS=64 the C library's timespec has 64-bit seconds, and SYS_futex there reads two 32-bit
// longs: passing the former to the latter was the bug.)
static_assert(shmring::detail::futex_syscall ==
#if defined(SYS_futex_time64)
              SYS_futex_time64
#else
              SYS_futex
#endif
);
static_assert(sizeof(shmring::detail::futex_timespec) == sizeof(__kernel_timespec));
static_assert(offsetof(shmring::detail::futex_timespec, tv_sec) == offsetof(__kernel_timespec, tv_sec));
static_assert(offsetof(shmring::detail::futex_timespec, tv_nsec) == offsetof(__kernel_timespec, tv_nsec));
static_assert(sizeof(shmring::detail::futex_timespec::tv_sec) == sizeof(__kernel_timespec::tv_sec));
static_assert(sizeof(shmring::detail::futex_timespec::tv_nsec) == sizeof(__kernel_timespec::tv_nsec));
#if defined(SHMRING_EXPECT_TIME64)
static_assert(sizeof(time_t) == 8 && sizeof(long) == 4, "this build is meant to be 32-bit with a 64-bit time_t");
#endif

namespace {

// Every kind of field a user puts in an element, at natural offsets. alignas(8) so that i386, where a
// uint64_t/double member is only 4-aligned, lays it out exactly as x86-64 does.
struct alignas(8) record {
  std::uint64_t seq;
  std::int64_t neg;
  double real;
  std::uint32_t u32;
  std::int16_t i16;
  std::uint8_t u8;
  char tag[13];
};
static_assert(sizeof(record) == 48 && alignof(record) == 8);
static_assert(offsetof(record, real) == 16 && offsetof(record, u32) == 24 && offsetof(record, tag) == 31);

std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

record make(std::uint64_t i) {
  record r{};
  const std::uint64_t m = mix(i);
  r.seq = i;
  r.neg = -static_cast<std::int64_t>(m >> 1);
  r.real = static_cast<double>(i) * 0.5 - 1e9;
  r.u32 = static_cast<std::uint32_t>(m);
  r.i16 = static_cast<std::int16_t>(m >> 32);
  r.u8 = static_cast<std::uint8_t>(m >> 48);
  std::snprintf(r.tag, sizeof r.tag, "#%" PRIu64, static_cast<std::uint64_t>(i % 100000000000u));  // <= 11 digits
  return r;
}

// Compares field by field and names the first that differs.
const char* wrong_field(const record& got, const record& want) {
  if (got.seq != want.seq) return "seq";
  if (got.neg != want.neg) return "neg";
  if (std::memcmp(&got.real, &want.real, sizeof got.real) != 0) return "real";
  if (got.u32 != want.u32) return "u32";
  if (got.i16 != want.i16) return "i16";
  if (got.u8 != want.u8) return "u8";
  if (std::memcmp(got.tag, want.tag, sizeof got.tag) != 0) return "tag";
  return nullptr;
}

shmring::options opts() {
  shmring::options o;
  o.open_timeout = std::chrono::seconds(10);
  return o;
}

constexpr std::uint64_t capacity = 1024;

int produce(const std::string& name, std::uint64_t n, bool u64) {
  std::uint64_t sum = 0;
  if (u64) {
    auto p = shmring::producer<std::uint64_t>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      p.push(mix(i));
      sum = mix(sum ^ mix(i));
    }
  } else {
    auto p = shmring::producer<record>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      const record r = make(i);
      p.push(r);
      sum = mix(sum ^ mix(i) ^ static_cast<std::uint64_t>(r.neg));
    }
  }
  std::printf("checksum %" PRIu64 "\n", sum);
  return 0;
}

int consume(const std::string& name, std::uint64_t n, bool u64) {
  std::uint64_t sum = 0;
  if (u64) {
    auto c = shmring::consumer<std::uint64_t>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t v = c.pop();
      if (v != mix(i)) {
        std::fprintf(stderr, "value %" PRIu64 " is wrong\n", i);
        return 2;
      }
      sum = mix(sum ^ v);
    }
  } else {
    auto c = shmring::consumer<record>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      const record r = c.pop();
      if (const char* f = wrong_field(r, make(i))) {
        std::fprintf(stderr, "record %" PRIu64 ": field %s is wrong\n", i, f);
        return 2;
      }
      sum = mix(sum ^ mix(i) ^ static_cast<std::uint64_t>(r.neg));
    }
  }
  std::string line;
  std::getline(std::cin, line);
  if (line != "checksum " + std::to_string(sum)) {
    std::fprintf(stderr, "checksum mismatch: producer said \"%s\", consumer computed %" PRIu64 "\n", line.c_str(), sum);
    return 3;
  }
  std::printf("ok %" PRIu64 " %s checksum %" PRIu64 "\n", n, u64 ? "u64" : "records", sum);
  return 0;
}

int futex_fail(const char* what) {
  std::fprintf(stderr, "futex-check: %s\n", what);
  return 5;
}

/// The system call a thread of this process is blocked in and its arguments, from /proc/self/task/TID/syscall
/// ("NR ARG0 ... ARG5 SP PC" while blocked, "running" otherwise). False while it is not in a system call.
bool blocked_call(long tid, long& nr, std::uintptr_t (&args)[6]) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return false;
  char line[512] = {};
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  if (!got || line[0] < '0' || line[0] > '9') return false;
  char* p = line;
  nr = std::strtol(p, &p, 10);
  for (auto& a : args) a = static_cast<std::uintptr_t>(std::strtoull(p, &p, 16));
  return true;
}

// The futex timeout the kernel sees is the one the library means, on this build's ABI. No timing thresholds:
// 1. the bytes of the library's timeout are those of a __kernel_timespec holding it;
// 2. the kernel's own view of a blocked futex wait of 3600.5 s (/proc/self/task/TID/syscall: the system call
//    number and the timeout's address, read while the thread sleeps): decoded in the layout that system call
//    reads, the timeout is 3600.5 s. The old code called SYS_futex with a 64-bit-time_t timespec, which that call
//    reads as {3600 s, 0 ns}. The sleeper sleeps until this thread wakes it, so it is caught asleep however
//    loaded the machine is;
// 3. a 1 ms wait on a word nobody wakes fails with ETIMEDOUT (not EINVAL, EFAULT or ENOSYS);
// 4. pop_for(20 ms) on an empty ring sleeps on the futex a handful of times, not hundreds: each sleep lasts its
//    whole timeout (a kernel timeout never ends early), so the count is bounded by how many timeouts fit in 20 ms
//    whatever the load; with the misread timeout each "sleep" returned after the timer slack (~80 us).
int futex_check(const std::string& name) {
  namespace d = shmring::detail;
  using namespace std::chrono_literals;
  const d::futex_timespec mine = d::to_futex_timespec(20ms);
  __kernel_timespec want{};
  want.tv_sec = 0;
  want.tv_nsec = 20'000'000;
  if (std::memcmp(&mine, &want, sizeof want) != 0) return futex_fail("the timeout's bytes are not a __kernel_timespec");

  constexpr std::int64_t want_sec = 3600, want_nsec = 500'000'000;
  std::atomic<std::uint32_t> word{0};
  std::atomic<long> tid{0};
  std::atomic<bool> done{false};
  long result = 0;
  int err = 0;
  std::thread sleeper([&] {
    tid.store(static_cast<long>(::syscall(SYS_gettid)), std::memory_order_release);
    result = d::futex_wait(&word, 0, std::chrono::seconds(want_sec) + std::chrono::nanoseconds(want_nsec));
    err = errno;
    done.store(true, std::memory_order_release);
  });
  long nr = -1;
  std::uintptr_t args[6] = {};
  bool seen = false, readable = true;
  std::int64_t sec = -1, nsec = -1;
  while (!done.load(std::memory_order_acquire)) {
    const long t = tid.load(std::memory_order_acquire);
    if (t == 0) continue;
    if (!blocked_call(t, nr, args) || args[0] != reinterpret_cast<std::uintptr_t>(&word)) {
      char path[64];
      std::snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", t);
      if (::access(path, R_OK) != 0) readable = false;
      if (!readable) break;
      ::sched_yield();
      continue;
    }
    // Blocked in a wait on our word: its timeout (argument 3) is in its stack frame, alive until it returns.
    const auto* ts = reinterpret_cast<const unsigned char*>(args[3]);
#if defined(SYS_futex_time64)
    if (nr == SYS_futex_time64) {
      __kernel_timespec k{};
      std::memcpy(&k, ts, sizeof k);
      sec = k.tv_sec;
      nsec = k.tv_nsec;
    } else if (nr == SYS_futex) {  // a 32-bit ABI's SYS_futex reads two 32-bit longs
      std::int32_t k[2];
      std::memcpy(k, ts, sizeof k);
      sec = k[0];
      nsec = k[1];
    }
#else
    if (nr == SYS_futex) {
      __kernel_timespec k{};
      std::memcpy(&k, ts, sizeof k);
      sec = k.tv_sec;
      nsec = k.tv_nsec;
    }
#endif
    seen = true;
    break;
  }
  // Wake it: FUTEX_WAKE returns how many it woke.
  while (!done.load(std::memory_order_acquire) &&
         ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0) != 1)
    ::sched_yield();
  sleeper.join();
  if (!readable) {
    std::printf("futex-check: /proc/self/task/TID/syscall is not readable here: the kernel's view is not checked\n");
  } else if (!seen) {
    std::fprintf(stderr, "futex-check: a 3600.5 s wait ended by itself (result %ld, errno %d %s)\n", result, err,
                 std::strerror(err));
    return 5;
  } else if (sec != want_sec || nsec != want_nsec) {
    std::fprintf(stderr, "futex-check: system call %ld read the timeout {%lld s, %lld ns}, meant {%lld s, %lld ns}\n",
                 nr, static_cast<long long>(sec), static_cast<long long>(nsec), static_cast<long long>(want_sec),
                 static_cast<long long>(want_nsec));
    return 5;
  } else if (result != 0) {
    return futex_fail("a woken futex wait did not return 0");
  }

  errno = 0;
  if (d::futex_wait(&word, 0, 1ms) != -1 || errno != ETIMEDOUT) {
    std::fprintf(stderr, "futex-check: a 1 ms wait returned with errno %d (%s)\n", errno, std::strerror(errno));
    return 5;
  }

  shmring::options o;
  o.wait.spin_iterations = 0;
  o.wait.yield_iterations = 1;
  o.wait.liveness_interval = std::chrono::hours(1);  // only the deadline bounds the sleeps
  auto c = shmring::consumer<std::uint64_t>::create(name, 8, o);
  const std::uint64_t before = c.sleeps();
  if (c.pop_for(20ms).has_value()) return futex_fail("pop_for on an empty ring returned a value");
  const std::uint64_t sleeps = c.sleeps() - before;
  // Without membarrier every sleep is cut to fallback_sleep (500 us): at most 40 of them fit in 20 ms.
  const std::uint64_t limit = d::heavy_barrier_available() ? 3 : 20ms / d::fallback_sleep + 3;
  std::printf("futex-check: ok (system call %ld read {%lld s, %lld ns}; pop_for(20 ms) slept %" PRIu64 " times, limit %"
              PRIu64 ")\n", nr, static_cast<long long>(sec), static_cast<long long>(nsec), sleeps, limit);
  if (sleeps == 0 || sleeps > limit) return futex_fail("pop_for(20 ms) did not sleep through its timeouts");
  return 0;
}

}  // namespace

int main(int argc, char* argv[]) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "info") {
      std::printf("pointer %zu header %zu cache_line %zu alignof(u64) %zu\n", sizeof(void*),
                  sizeof(shmring::layout::header), shmring::cache_line, alignof(std::uint64_t));
      return 0;
    }
    if ((cmd == "produce" || cmd == "consume") && argc >= 4) {
      const bool u64 = argc > 4 && std::string(argv[4]) == "u64";
      const std::uint64_t n = std::stoull(argv[3]);
      return cmd == "produce" ? produce(argv[2], n, u64) : consume(argv[2], n, u64);
    }
    if (cmd == "create-huge" && argc == 4) {
      shmring::options o = opts();
      o.persistent = true;
      auto p = shmring::producer<record>::create(argv[2], std::uint64_t{1} << std::stoi(argv[3]), o);
      std::printf("created %" PRIu64 " slots\n", p.capacity());
      return 0;
    }
    if (cmd == "open-huge" && argc == 3) {
      auto c = shmring::consumer<record>::open(argv[2], opts());
      std::printf("opened %" PRIu64 " slots\n", c.capacity());
      return 0;
    }
    if (cmd == "futex-check" && argc == 3) return futex_check(argv[2]);
    std::fprintf(stderr, "usage: peer info | produce|consume NAME COUNT [u64] | create-huge NAME LOG2CAP | open-huge NAME"
                 " | futex-check NAME\n");
    return 4;
  } catch (const shmring::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 10 + static_cast<int>(e.code());
  }
}
