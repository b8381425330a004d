// shmring benchmarks: what every entry shares. The parameters (capacity, items per round, batch, sizes), the
// element types, core pinning, a shared control block for acknowledgements, and real child processes (this binary
// re-run with a hidden flag), so every peer is measured by the same harness and only its transport differs.
//
// THE HARNESS
// Throughput: the benchmark thread is the producer, pinned to the first allowed core; the consumer runs pinned to
// the second, as a thread or as a separate process. One benchmark iteration is one round: the producer sends
// round_items elements (sequence numbers 0, 1, 2, ...), the consumer checks every sequence number and, at the end of
// each round, stores the round number into the shared control block; the producer waits for that acknowledgement
// before the next iteration. So an iteration is a complete, verified transfer and real time is the right clock.
// Round trip: the benchmark thread sends a sequence number, the peer echoes it back, the benchmark thread checks it.
// Every round trip is timed with the TSC, so percentiles come out as counters (p50_ns ... p999_ns, max_ns).
#pragma once

#include <shmring/config.hpp>
#include <shmring/wait.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

extern char** environ;

namespace shmring_bench {

// ------------------------------------------------------------------------------------------------ parameters

/// Slots of every element queue (shmring, boost::lockfree, atomic_queue, Boost message_queue, POSIX mq when the
/// system allows it, the pipe's buffer in 64-byte messages).
inline constexpr std::uint64_t capacity = 4096;
/// Elements per benchmark iteration in throughput runs (16 laps of the ring).
inline constexpr std::uint64_t round_items = std::uint64_t{1} << 16;
/// Elements per call in batch runs (try_push_n / push_n / pop_n, boost's push(const T*, n) / pop(T*, n)).
inline constexpr std::size_t batch = 64;
/// The sequence number that tells a consumer or echo peer to stop.
inline constexpr std::uint64_t quit = ~std::uint64_t{0};

/// The 8-byte element: its sequence number.
using elem8 = std::uint64_t;

/// The 64-byte element: a sequence number and 56 bytes of payload (filled, so the bytes really move).
struct elem64 {
  std::uint64_t seq;
  std::uint64_t payload[7];
};
static_assert(sizeof(elem64) == 64);

template <class E>
inline E make(std::uint64_t seq) noexcept {
  if constexpr (std::is_same_v<E, elem64>) {
    elem64 e;
    e.seq = seq;
    for (auto& p : e.payload) p = seq;
    return e;
  } else {
    return seq;
  }
}
inline std::uint64_t seq_of(const elem64& e) noexcept { return e.seq; }
inline std::uint64_t seq_of(std::uint64_t e) noexcept { return e; }

inline void cpu_relax() noexcept { shmring::detail::cpu_relax(); }

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "shmring_bench: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(3);
}

// ------------------------------------------------------------------------------------------------ cores

/// The first two cores this process may run on: {producer, consumer}; -1 where there is none.
inline std::pair<int, int> bench_cpus() {
  static const std::pair<int, int> cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::pair<int, int> r{-1, -1};
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return r;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (!CPU_ISSET(c, &set)) continue;
      if (r.first < 0)
        r.first = c;
      else if (r.second < 0) {
        r.second = c;
        break;
      }
    }
    return r;
  }();
  return cpus;
}

inline void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)::sched_setaffinity(0, sizeof set, &set);  // 0: the calling thread
}

/// Pins the calling thread to the producer core for its lifetime and restores the previous mask afterwards (so
/// the lock benchmarks, whose threads inherit the main thread's mask, still get both cores).
class scoped_pin {
 public:
  explicit scoped_pin(int cpu) {
    CPU_ZERO(&old_);
    saved_ = ::sched_getaffinity(0, sizeof old_, &old_) == 0;
    pin_to(cpu);
  }
  ~scoped_pin() {
    if (saved_) (void)::sched_setaffinity(0, sizeof old_, &old_);
  }
  scoped_pin(const scoped_pin&) = delete;
  scoped_pin& operator=(const scoped_pin&) = delete;

 private:
  cpu_set_t old_;
  bool saved_ = false;
};

// ------------------------------------------------------------------------------------------------ control block

/// Written by the consumer (or echo peer), read by the benchmark thread. Each word on a line of its own.
struct control {
  alignas(shmring::cache_line) std::atomic<std::uint64_t> ready{0};   // 1 once the peer is attached and pinned
  alignas(shmring::cache_line) std::atomic<std::uint64_t> acked{0};   // rounds the consumer has completed
  alignas(shmring::cache_line) std::atomic<std::uint64_t> failed{0};  // elements with a wrong sequence number
  alignas(shmring::cache_line) std::atomic<std::uint64_t> first_bad{0};
};

/// A control block in an anonymous shared mapping (memfd), inherited by a child as a file descriptor.
class shared_control {
 public:
  shared_control() {
    fd_ = ::memfd_create("shmring-bench-control", MFD_CLOEXEC);
    if (fd_ < 0 || ::ftruncate(fd_, sizeof(control)) != 0) die("memfd_create/ftruncate failed");
    map();
    ::new (static_cast<void*>(ctl_)) control();
  }
  /// Child side: maps the block its parent created.
  explicit shared_control(int fd) : fd_(fd) { map(); }
  ~shared_control() {
    if (ctl_ != nullptr) ::munmap(ctl_, sizeof(control));
    if (fd_ >= 0) ::close(fd_);
  }
  shared_control(const shared_control&) = delete;
  shared_control& operator=(const shared_control&) = delete;

  [[nodiscard]] control& get() const noexcept { return *ctl_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  void map() {
    void* p = ::mmap(nullptr, sizeof(control), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) die("mmap of the control block failed");
    ctl_ = static_cast<control*>(p);
  }
  int fd_ = -1;
  control* ctl_ = nullptr;
};

// ------------------------------------------------------------------------------------------------ child processes

using child_fn = int (*)(const std::vector<std::string>& args);

inline std::map<std::string, child_fn>& children() {
  static std::map<std::string, child_fn> m;
  return m;
}

struct child_registrar {
  child_registrar(const char* name, child_fn f) { children()[name] = f; }
};

/// A function the benchmarks can start as a separate process: BENCH_CHILD(name) { ...; return 0; }
#define BENCH_CHILD(name)                                                        \
  static int name(const std::vector<std::string>& args);                         \
  static const ::shmring_bench::child_registrar name##_registrar(#name, name);   \
  static int name([[maybe_unused]] const std::vector<std::string>& args)

/// The hidden flag that makes the binary run a child function instead of the benchmarks.
inline constexpr std::string_view child_flag = "--bench-child";

/// main() of a child: argv = {exe, --bench-child, name, cpu, args...}. Pins itself to cpu (the consumer core: the
/// parent names it, since the child inherits the parent thread's mask, which is pinned to the producer core).
inline int run_child(int argc, char** argv) {
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a benchmark that was killed
  if (argc < 4) return 126;
  const auto it = children().find(argv[2]);
  if (it == children().end()) {
    std::fprintf(stderr, "shmring_bench: unknown child %s\n", argv[2]);
    return 127;
  }
  pin_to(std::atoi(argv[3]));
  try {
    return it->second(std::vector<std::string>(argv + 4, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmring_bench child %s: %s\n", argv[2], e.what());
    return 99;
  }
}

/// Descriptors handed to a child land at these numbers (dup2 clears close-on-exec there).
inline constexpr int child_fd_base = 100;

/// This binary re-run (fork + exec through posix_spawn) as `--bench-child fn args...`. The descriptors in fds are
/// passed at child_fd_base, child_fd_base + 1, ...; everything else the parent holds is close-on-exec, so the child
/// inherits no segment descriptor and no lock. Killed and reaped by the destructor if still running.
class child_process {
 public:
  child_process(const std::string& fn, const std::vector<std::string>& args, const std::vector<int>& fds = {}) {
    std::vector<std::string> argv_s{"shmring_bench", std::string(child_flag), fn, std::to_string(bench_cpus().second)};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) die("readlink /proc/self/exe failed");
    exe[n] = '\0';
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (std::size_t i = 0; i < fds.size(); ++i)
      posix_spawn_file_actions_adddup2(&fa, fds[i], child_fd_base + static_cast<int>(i));
    const int rc = ::posix_spawn(&pid_, exe, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("posix_spawn failed: " + std::string(std::strerror(rc)));
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  /// False once the child has exited (reaps it; wait() then returns its status).
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == 0) return true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pid_ = -1;
    return false;
  }

  /// Waits for the child to exit; its exit code (128 + signal if killed).
  int wait() {
    if (pid_ > 0) {
      int st = 0;
      if (::waitpid(pid_, &st, 0) == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Spins until pred() holds. When a child is given, checks every 2^18 failed attempts that it still runs, and ends
/// the benchmark binary if it does not (a dead peer must not hang a report).
template <class Pred>
inline void spin_until(Pred&& pred, child_process* peer = nullptr) {
  for (std::uint32_t i = 1; !pred(); ++i) {
    cpu_relax();
    if (peer != nullptr && (i & 0x3ffff) == 0 && !peer->running() && !pred()) die("the peer process exited early");
  }
}

/// A fresh name for a segment, queue or socket of this benchmark run.
inline std::string unique_name(std::string_view what) {
  static std::atomic<int> counter{0};
  return "bench-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

// ------------------------------------------------------------------------------------------------ throughput

/// The consumer's loop, for every peer: pop() returns the next element; every sequence number is checked; each
/// completed round is acknowledged through ctl.acked. Ends at the quit element.
template <class E, class Pop>
inline void consume_rounds(control& ctl, Pop&& pop) {
  // release: pairs with the benchmark thread's acquire load in start(); it may send once we are attached.
  ctl.ready.store(1, std::memory_order_release);
  for (std::uint64_t n = 0;;) {
    const E v = pop();
    const std::uint64_t s = seq_of(v);
    if (SHMRING_UNLIKELY(s != n)) {
      if (s == quit) return;
      if (ctl.failed.fetch_add(1, std::memory_order_relaxed) == 0) ctl.first_bad.store(n + 1, std::memory_order_relaxed);
    }
    ++n;
    // release: pairs with the acquire load in end_round(); orders the failed count before the acknowledgement.
    if ((n & (round_items - 1)) == 0) ctl.acked.store(n / round_items, std::memory_order_release);
  }
}

/// The same with a batch pop: pop_n(span) returns how many it copied (at least 1).
template <class E, class PopN>
inline void consume_rounds_n(control& ctl, PopN&& pop_n) {
  ctl.ready.store(1, std::memory_order_release);  // pairs as in consume_rounds
  E buf[batch];
  for (std::uint64_t n = 0;;) {
    const std::size_t k = pop_n(buf);
    for (std::size_t i = 0; i < k; ++i) {
      const std::uint64_t s = seq_of(buf[i]);
      if (SHMRING_UNLIKELY(s != n)) {
        if (s == quit) return;
        if (ctl.failed.fetch_add(1, std::memory_order_relaxed) == 0) ctl.first_bad.store(n + 1, std::memory_order_relaxed);
      }
      ++n;
      if ((n & (round_items - 1)) == 0) ctl.acked.store(n / round_items, std::memory_order_release);  // as above
    }
  }
}

/// Waits for the consumer to be attached.
inline void start(control& ctl, child_process* peer = nullptr) {
  // acquire: pairs with the release store of ready in consume_rounds().
  spin_until([&] { return ctl.ready.load(std::memory_order_acquire) != 0; }, peer);
}

/// Waits for the acknowledgement of round r.
inline void end_round(control& ctl, std::uint64_t r, child_process* peer = nullptr) {
  // acquire: pairs with the release store of acked in consume_rounds().
  spin_until([&] { return ctl.acked.load(std::memory_order_acquire) >= r; }, peer);
}

/// The producer's loop for single-element peers. push(e) must not return before e is in the queue.
template <class E, class Push>
inline void produce_rounds(benchmark::State& state, control& ctl, Push&& push, child_process* peer = nullptr) {
  start(ctl, peer);
  std::uint64_t seq = 0, round = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < round_items; ++i) push(make<E>(seq++));
    end_round(ctl, ++round, peer);
  }
  push(make<E>(quit));
}

/// The producer's loop for batch peers: push_n(span) must push all of it.
template <class E, class PushN>
inline void produce_rounds_n(benchmark::State& state, control& ctl, PushN&& push_n, child_process* peer = nullptr) {
  start(ctl, peer);
  static_assert(round_items % batch == 0);
  E buf[batch];
  std::uint64_t seq = 0, round = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < round_items; i += batch) {
      for (auto& e : buf) e = make<E>(seq++);
      push_n(std::span<const E>(buf, batch));
    }
    end_round(ctl, ++round, peer);
  }
  buf[0] = make<E>(quit);
  push_n(std::span<const E>(buf, 1));
}

/// Items, bytes and the verification outcome of a throughput run.
inline void finish_throughput(benchmark::State& state, control& ctl, std::size_t item_bytes, int child_status = 0) {
  const auto items = static_cast<std::int64_t>(state.iterations() * round_items);
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(items * static_cast<std::int64_t>(item_bytes));
  state.counters["capacity"] = static_cast<double>(capacity);
  state.counters["item_bytes"] = static_cast<double>(item_bytes);
  if (const auto bad = ctl.failed.load(std::memory_order_relaxed); bad != 0)
    state.SkipWithError(("consumer saw " + std::to_string(bad) + " wrong sequence numbers, first at element " +
                         std::to_string(ctl.first_bad.load(std::memory_order_relaxed) - 1))
                            .c_str());
  else if (child_status != 0)
    state.SkipWithError(("the consumer process exited with status " + std::to_string(child_status)).c_str());
}

// ------------------------------------------------------------------------------------------------ messages

/// Bytes of every message queue (the shmring message ring's data area, Boost message_queue's messages times their
/// size, the pipe's buffer up to pipe-max-size).
inline constexpr std::uint64_t msg_capacity = std::uint64_t{4} << 20;
/// Bytes per benchmark iteration in message runs: 65536 messages of 64 B (as the element runs), 64 of 64 KiB, ...
inline constexpr std::uint64_t msg_round_bytes = std::uint64_t{4} << 20;
/// The message sizes of the message runs.
inline constexpr std::size_t msg_sizes[] = {64, 1024, 64 * 1024, 1024 * 1024};

/// size bytes at a page boundary. Every message buffer of the suite is one, so no entry depends on where malloc put
/// its buffer: on AMD Zen 3 with glibc 2.36, a memcpy of 4 KiB or more (rep movsb) whose destination lies 8 to 24
/// bytes past its source modulo 4096 runs about 12 times slower (measured on the reference machine).
class page_buffer {
 public:
  explicit page_buffer(std::size_t size)
      : p_(static_cast<std::byte*>(std::aligned_alloc(4096, (size + 4095) / 4096 * 4096))) {
    if (p_ == nullptr) die("aligned_alloc failed");
    std::memset(p_, 0, (size + 4095) / 4096 * 4096);
  }
  ~page_buffer() { std::free(p_); }
  page_buffer(const page_buffer&) = delete;
  page_buffer& operator=(const page_buffer&) = delete;
  [[nodiscard]] std::byte* data() const noexcept { return p_; }

 private:
  std::byte* p_;
};

/// A message of size bytes (a multiple of 8, at least 16): filled with a pattern once; every message carries its
/// sequence number in its first and its last 8 bytes, so a consumer checks both ends of every message.
class message_source {
 public:
  explicit message_source(std::size_t size) : size_(size), buf_(size) {
    for (std::size_t i = 0; i + 8 <= size; i += 8) {
      const std::uint64_t w = 0x9e3779b97f4a7c15ull * (i + 1);
      std::memcpy(buf_.data() + i, &w, 8);
    }
  }
  /// Stamps seq at both ends and returns the bytes.
  const std::byte* stamp(std::uint64_t seq) noexcept {
    std::memcpy(buf_.data(), &seq, 8);
    std::memcpy(buf_.data() + size_ - 8, &seq, 8);
    return buf_.data();
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  page_buffer buf_;
};

/// The sequence numbers at both ends of a received message: {first, last}.
inline std::pair<std::uint64_t, std::uint64_t> ends_of(const std::byte* p, std::size_t size) noexcept {
  std::pair<std::uint64_t, std::uint64_t> r;
  std::memcpy(&r.first, p, 8);
  std::memcpy(&r.second, p + size - 8, 8);
  return r;
}

/// The producer's loop of a message run: send(bytes, size) must not return before the message is queued.
template <class Send>
inline void produce_messages(benchmark::State& state, control& ctl, std::size_t size, Send&& send,
                             child_process* peer = nullptr) {
  start(ctl, peer);
  message_source src(size);
  const std::uint64_t per_round = msg_round_bytes / size;
  std::uint64_t seq = 0, round = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < per_round; ++i) send(src.stamp(seq++), size);
    end_round(ctl, ++round, peer);
  }
  send(src.stamp(quit), size);
  const auto n = static_cast<std::int64_t>(state.iterations() * per_round);
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(n * static_cast<std::int64_t>(size));
  state.counters["msg_bytes"] = static_cast<double>(size);
}

/// The consumer's loop of a message run: recv() returns {first, last} sequence words of the next message.
template <class Recv>
inline void consume_messages(control& ctl, std::size_t size, Recv&& recv) {
  const std::uint64_t per_round = msg_round_bytes / size;
  ctl.ready.store(1, std::memory_order_release);  // pairs with the acquire load in start()
  for (std::uint64_t n = 0;;) {
    const auto [first, last] = recv();
    if (SHMRING_UNLIKELY(first != n || last != n)) {
      if (first == quit && last == quit) return;
      if (ctl.failed.fetch_add(1, std::memory_order_relaxed) == 0) ctl.first_bad.store(n + 1, std::memory_order_relaxed);
    }
    ++n;
    if (n % per_round == 0) ctl.acked.store(n / per_round, std::memory_order_release);  // pairs with end_round()
  }
}

/// The verification outcome of a message run.
inline void finish_messages(benchmark::State& state, control& ctl, std::uint64_t capacity_bytes, int child_status = 0) {
  state.counters["capacity_bytes"] = static_cast<double>(capacity_bytes);
  if (const auto bad = ctl.failed.load(std::memory_order_relaxed); bad != 0)
    state.SkipWithError(("consumer saw " + std::to_string(bad) + " wrong messages, first at message " +
                         std::to_string(ctl.first_bad.load(std::memory_order_relaxed) - 1))
                            .c_str());
  else if (child_status != 0)
    state.SkipWithError(("the consumer process exited with status " + std::to_string(child_status)).c_str());
}

/// "64B", "1KiB", "64KiB", "1MiB": the size in entry names.
inline std::string size_name(std::size_t s) {
  if (s >= (1u << 20)) return std::to_string(s >> 20) + "MiB";
  if (s >= 1024) return std::to_string(s >> 10) + "KiB";
  return std::to_string(s) + "B";
}

// ------------------------------------------------------------------------------------------------ round trips

inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

/// The benchmark thread's ping-pong loop: send(seq), then recv() must return seq. Each round trip is timed; the
/// TSC is calibrated against steady_clock over the run itself. Percentiles go to counters in nanoseconds.
template <class Send, class Recv>
inline void ping_pong(benchmark::State& state, Send&& send, Recv&& recv) {
  constexpr std::size_t max_samples = std::size_t{1} << 23;
  std::vector<std::uint32_t> samples(std::min<std::size_t>(static_cast<std::size_t>(state.max_iterations), max_samples));
  std::size_t n = 0;
  std::uint64_t bad = 0, seq = 1;
  const auto c0 = std::chrono::steady_clock::now();
  const std::uint64_t t_begin = ticks();
  std::uint64_t t0 = t_begin;
  for (auto _ : state) {
    send(seq);
    if (SHMRING_UNLIKELY(recv() != seq)) ++bad;
    ++seq;
    const std::uint64_t t1 = ticks();
    if (n < samples.size()) samples[n++] = static_cast<std::uint32_t>(std::min<std::uint64_t>(t1 - t0, 0xffffffffu));
    t0 = t1;
  }
  const std::uint64_t t_end = ticks();
  const auto c1 = std::chrono::steady_clock::now();
  send(quit);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 2 * 8);
  if (bad != 0) state.SkipWithError((std::to_string(bad) + " round trips returned the wrong sequence number").c_str());
  if (n == 0 || t_end <= t_begin) return;
  const double ns_per_tick = std::chrono::duration<double, std::nano>(c1 - c0).count() / static_cast<double>(t_end - t_begin);
  std::sort(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(n));
  auto pct = [&](double p) {
    const auto i = std::min(n - 1, static_cast<std::size_t>(p * static_cast<double>(n)));
    return static_cast<double>(samples[i]) * ns_per_tick;
  };
  state.counters["p50_ns"] = pct(0.50);
  state.counters["p90_ns"] = pct(0.90);
  state.counters["p99_ns"] = pct(0.99);
  state.counters["p999_ns"] = pct(0.999);
  state.counters["max_ns"] = static_cast<double>(samples[n - 1]) * ns_per_tick;
}

/// The echo peer's loop, for every peer: returns at quit.
template <class Recv, class Send>
inline void echo(control& ctl, Recv&& recv, Send&& send) {
  ctl.ready.store(1, std::memory_order_release);  // pairs with the acquire load in start()
  for (;;) {
    const std::uint64_t v = recv();
    if (v == quit) return;
    send(v);
  }
}

// ------------------------------------------------------------------------------------------------ registration

/// Throughput runs: real time (two sides), one round per iteration.
inline void two_sided(benchmark::internal::Benchmark* b) { b->UseRealTime()->Unit(benchmark::kMicrosecond); }
/// Round-trip runs: real time, one round trip per iteration.
inline void round_trip(benchmark::internal::Benchmark* b) { b->UseRealTime()->Unit(benchmark::kNanosecond); }

}  // namespace shmring_bench
