// Crash loops and the long two-thread soak. Built twice by tests/hardening/CMakeLists.txt: a short run in the
// default test set (label hardening) and, with -DSHMRING_SOAK=ON, the full one (label soak):
//   - SIGKILL-restart cycles (full: 1,000 of each side). A producer and a consumer run as real processes; the
//     test SIGKILLs one of them at an arbitrary point (after the ring moved a random number of elements since it
//     started, sometimes right after it was spawned, i.e. while it is opening and attaching) and restarts it,
//     alternating sides. Every element carries its sequence number, which must equal its ring index: the
//     restarted producer continues at pushed(), the restarted consumer at popped(). The consumer records each
//     element in a ledger (a MAP_SHARED file) before releasing it, so an element recorded but not released when
//     it was killed is seen again by its successor, which recognises it; the test then checks that every
//     sequence number was recorded exactly once, every value was right, and that the segment is gone once both
//     sides finished (no segment left behind).
//   - two threads, one ring in shared memory, indices starting just below 2^64 so they wrap half-way (full: 10^8
//     messages, run under the tsan preset): every value checked in order, checksums compared.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "await.hpp"
#include "options.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef SHMRING_SOAK_FULL
#define SHMRING_SOAK_FULL 0
#endif
// The two builds register under different CTest names.
#if SHMRING_SOAK_FULL
#define SOAK_TITLE(t) "soak: " t
#else
#define SOAK_TITLE(t) t
#endif

using namespace shmring;
using shmring_test::await;
using shmring_test::child_process;
using shmring_test::mix;
using shmring_test::raw_map;
using shmring_test::segment_exists;
using shmring_test::segment_guard;

namespace {
constexpr int kill_cycles = SHMRING_SOAK_FULL ? 1000 : 20;  // per side
constexpr std::uint64_t thread_messages =
    SHMRING_SOAK_FULL ? 100'000'000ull : shmring_test::scaled(2'000'000, 200'000);
constexpr std::uint64_t capacity = 64;
constexpr std::uint64_t max_step = 300;  // elements the ring moves, at most, before a kill
constexpr std::uint64_t slack = 512;     // how far past the kill point the producer may run meanwhile
constexpr std::uint64_t messages = kill_cycles * 2 * (max_step + slack) + 5000;

struct stamped {
  std::uint64_t seq;
  std::uint64_t value;
};

// Shared with the children in a MAP_SHARED file: the consumer's durable record, one byte per sequence number (how
// often it was recorded), a count of redeliveries it recognised, the first failure (0 none, 1 + index of a wrong
// element), and the sequence number the producer may not reach yet (the test raises it before each kill, so the
// victim is busy when it dies but the run cannot finish before the last cycle, however fast the ring moves).
struct ledger_header {
  std::atomic<std::uint64_t> redelivered;
  std::atomic<std::uint64_t> failure;
  std::atomic<std::uint64_t> limit;
};

class ledger {
 public:
  ledger(const std::string& path, bool create) {
    fd_ = ::open(path.c_str(), create ? (O_RDWR | O_CREAT | O_TRUNC) : O_RDWR, 0600);
    if (fd_ < 0 || (create && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0))
      throw std::runtime_error("ledger " + path);
    p_ = static_cast<std::byte*>(::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0));
    if (p_ == MAP_FAILED) throw std::runtime_error("mmap ledger");
  }
  ~ledger() {
    ::munmap(p_, size_);
    ::close(fd_);
  }
  ledger(const ledger&) = delete;
  ledger& operator=(const ledger&) = delete;
  ledger_header& head() const { return *reinterpret_cast<ledger_header*>(p_); }
  std::atomic_ref<std::uint8_t> count(std::uint64_t seq) const {
    return std::atomic_ref<std::uint8_t>(*reinterpret_cast<std::uint8_t*>(p_ + sizeof(ledger_header) + seq));
  }

 private:
  static constexpr std::size_t size_ = sizeof(ledger_header) + messages;
  int fd_ = -1;
  std::byte* p_ = nullptr;
};

options opts() { return shmring_test::with_timeouts(std::chrono::seconds(20), std::chrono::milliseconds(2)); }
}  // namespace

// args: name ledger_path. Pushes stamped{s, mix(s)} for s = pushed() .. messages-1, never reaching the ledger's
// limit. While the consumer is dead (peer_dead) it waits for the next one. Exits 0 when all are pushed.
SHMRING_CHILD(crash_producer) {
  auto p = producer<stamped>::open(args.at(0), opts());
  ledger l(args.at(1), false);
  for (std::uint64_t s = p.pushed(); s < messages; s = p.pushed()) {
    if (s >= l.head().limit.load(std::memory_order_acquire)) {
      std::this_thread::yield();
      continue;
    }
    try {
      p.push(stamped{s, mix(s)});
    } catch (const error& e) {
      if (e.code() != errc::peer_dead) throw;
      std::this_thread::yield();  // the consumer is being restarted: try again
    }
  }
  return 0;
}

// args: name ledger_path create(0|1). Reads the oldest element in place, checks seq == its ring index and the
// value, records it in the ledger (or recognises a redelivery), then releases it. Exits 0 after `messages`.
SHMRING_CHILD(crash_consumer) {
  auto c = args.at(2) == "1" ? consumer<stamped>::create(args.at(0), capacity, opts())
                             : consumer<stamped>::open(args.at(0), opts());
  if (args.at(2) == "1") shmring_test::say("created");
  ledger l(args.at(1), false);
  while (c.popped() < messages) {
    const stamped* e = c.front();
    if (e == nullptr) {
      std::this_thread::yield();
      continue;
    }
    const std::uint64_t s = e->seq;
    if (s != c.popped() || s >= messages || e->value != mix(s)) {
      std::uint64_t none = 0;
      l.head().failure.compare_exchange_strong(none, 1 + c.popped());
      return 2;
    }
    if (l.count(s).load() == 0)
      l.count(s).store(1);  // recorded: from here on, a successor that sees s again knows it
    else
      l.head().redelivered.fetch_add(1);
    c.pop_front();
  }
  return 0;
}

TEST_CASE(SOAK_TITLE("SIGKILL-restart cycles of each side lose and duplicate nothing and leave no segment"),
          "[hardening][soak][crash]") {
  segment_guard g("crash");
  char tmpl[] = "/tmp/shmring-ledger-XXXXXX";
  const int tfd = ::mkstemp(tmpl);
  REQUIRE(tfd >= 0);
  ::close(tfd);
  const std::string ledger_path = tmpl;
  struct unlink_at_end {
    std::string p;
    ~unlink_at_end() { ::unlink(p.c_str()); }
  } cleanup{ledger_path};
  ledger l(ledger_path, true);

  std::mt19937_64 rng(20261122);
  auto cons =
      std::make_unique<child_process>("crash_consumer", std::vector<std::string>{g.name(), ledger_path, "1"}, true);
  // The consumer creates the ring; the producer opens it once it exists.
  REQUIRE(shmring_test::read_line(cons->output_fd()) == "created");
  auto prod = std::make_unique<child_process>("crash_producer", std::vector<std::string>{g.name(), ledger_path});
  raw_map m(g.name());
  auto& h = m.h();
  int kills[2] = {0, 0};
  int immediate = 0;
  for (int cycle = 0; cycle < kill_cycles; ++cycle) {
    for (int side = 0; side < 2; ++side) {  // 0: producer, 1: consumer
      auto& idx = side == 0 ? h.head.value : h.tail.value;
      const std::uint64_t start = idx.load(std::memory_order_acquire);
      // One kill in eight lands right after the spawn (in exec, open or attach); the others after the ring moved
      // 1..max_step elements, wherever the victim then is (copying, publishing, waking, sleeping).
      const std::uint64_t step = rng() % 8 == 0 ? 0 : 1 + rng() % max_step;
      if (step == 0) ++immediate;
      l.head().limit.store(h.head.value.load() - h.control.initial_index + step + slack, std::memory_order_release);
      // (A side that exits early, i.e. failed, ends the wait too, and the checks below report it.)
      await([&] {
        return idx.load(std::memory_order_acquire) - start >= step || shmring_test::has_exited(prod->pid()) ||
               shmring_test::has_exited(cons->pid());
      });
      if (shmring_test::has_exited(prod->pid()) || shmring_test::has_exited(cons->pid())) {
        FAIL_CHECK("a side exited early in cycle " << cycle << ": producer " << prod->wait() << ", consumer "
                                                  << cons->wait() << ", ledger failure " << l.head().failure.load());
        return;
      }
      auto& victim = side == 0 ? prod : cons;
      victim->kill_now();
      ++kills[side];
      REQUIRE(l.head().failure.load() == 0);
      victim = side == 0 ? std::make_unique<child_process>("crash_producer", std::vector<std::string>{g.name(), ledger_path})
                         : std::make_unique<child_process>("crash_consumer",
                                                           std::vector<std::string>{g.name(), ledger_path, "0"});
    }
  }
  l.head().limit.store(messages, std::memory_order_release);
  CHECK(prod->wait() == 0);
  CHECK(cons->wait() == 0);
  CAPTURE(kills[0], kills[1], immediate, messages);
  CHECK(kills[0] == kill_cycles);
  CHECK(kills[1] == kill_cycles);
  CHECK(l.head().failure.load() == 0);  // every stamped carried its own index and the right value
  std::uint64_t missing = 0, duplicated = 0;
  for (std::uint64_t s = 0; s < messages; ++s) {
    const std::uint8_t n = l.count(s).load();
    missing += n == 0;
    duplicated += n > 1;
  }
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  // Only an stamped recorded but not yet released by a killed consumer is seen twice: at most one per kill.
  CHECK(l.head().redelivered.load() <= static_cast<std::uint64_t>(kills[1]));
  CHECK_FALSE(segment_exists(g.name()));  // both sides finished cleanly with the ring drained: removed
  std::printf("crash loop: %d producer kills, %d consumer kills (%d right after spawn), %llu messages, %llu redelivered and recognised\n",
              kills[0], kills[1], immediate, static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(l.head().redelivered.load()));
}

TEST_CASE(SOAK_TITLE("two threads move messages across the 2^64 index wrap in order"), "[hardening][soak][wrap]") {
  const bool batch = GENERATE(false, true);
  CAPTURE(batch);
  segment_guard g("wrap-soak");
  options o;
  o.first_index = ~std::uint64_t{0} - thread_messages / 2;  // wraps to 0 half-way through
  auto p = producer<std::uint64_t>::create(g.name(), 1024, o);
  auto c = consumer<std::uint64_t>::open(g.name(), o);
  std::uint64_t sent_sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread t([&] {
    if (!batch) {
      for (std::uint64_t i = 0; i < thread_messages; ++i) {
        p.push(mix(i));
        sent_sum = mix(sent_sum ^ i);
      }
    } else {
      std::uint64_t buf[61];  // an odd batch so batches straddle the ring's end and the index wrap
      for (std::uint64_t i = 0; i < thread_messages;) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(61, thread_messages - i));
        for (std::size_t j = 0; j < k; ++j) {
          buf[j] = mix(i + j);
          sent_sum = mix(sent_sum ^ (i + j));
        }
        p.push_n(std::span<const std::uint64_t>(buf, k));
        i += k;
      }
    }
  });
  std::uint64_t got_sum = 0, wrong = 0, first_wrong = ~std::uint64_t{0};
  if (!batch) {
    for (std::uint64_t i = 0; i < thread_messages; ++i) {
      if (c.pop() != mix(i) && wrong++ == 0) first_wrong = i;
      got_sum = mix(got_sum ^ i);
    }
  } else {
    std::uint64_t buf[128];
    for (std::uint64_t i = 0; i < thread_messages;) {
      const std::size_t n = c.pop_n(std::span<std::uint64_t>(buf, static_cast<std::size_t>(
                                                                      std::min<std::uint64_t>(128, thread_messages - i))));
      for (std::size_t j = 0; j < n; ++j, ++i) {
        if (buf[j] != mix(i) && wrong++ == 0) first_wrong = i;
        got_sum = mix(got_sum ^ i);
      }
    }
  }
  t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CAPTURE(first_wrong);
  CHECK(wrong == 0);
  CHECK(got_sum == sent_sum);
  CHECK(p.pushed() == thread_messages);
  CHECK(c.popped() == thread_messages);
  CHECK(c.size_approx() == 0);
  CHECK_FALSE(c.try_pop().has_value());
  const std::uint64_t head = raw_map(g.name()).h().head.value.load();
  CHECK(head == o.first_index + thread_messages);  // modulo 2^64
  CHECK(head < o.first_index);                     // the index really wrapped past 2^64
  std::printf("wrap soak (%s): %llu messages in %.1f s, first index %llu\n", batch ? "batches" : "single",
              static_cast<unsigned long long>(thread_messages), secs, static_cast<unsigned long long>(o.first_index));
}
