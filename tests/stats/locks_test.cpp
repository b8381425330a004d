// Unit tests of shmring/stats/locks.hpp: mutual exclusion, exact counting, contention seen through an
// announcing test lock (never through sleeps), and a spinlock shared with a forked child.
#include <shmring/stats/locks.hpp>

#include <catch2/catch.hpp>

#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <type_traits>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace bip = boost::interprocess;
using shmring::lock_stats;
using shmring::spinlock;
using shmring::stats_counter;
using shmring::stats_lock;

// Forwards to L and raises a flag when a caller reaches the blocking lock() / lock_shared(). stats_lock
// calls those only after its try_lock failed, so once a flag is up that caller is certainly on the
// contended path, and the holder may release without guessing how long to wait.
template <class L>
class announcing_lock {
 public:
  void lock() {
    // release: pairs with the acquire in entered(), after the waiter has read its start time.
    entered_.store(true, std::memory_order_release);
    inner_.lock();
  }
  bool try_lock() { return inner_.try_lock(); }
  void unlock() { inner_.unlock(); }

  void lock_shared() requires shmring::shared_lockable<L> {
    entered_shared_.store(true, std::memory_order_release);
    inner_.lock_shared();
  }
  bool try_lock_shared() requires shmring::shared_lockable<L> { return inner_.try_lock_shared(); }
  void unlock_shared() requires shmring::shared_lockable<L> { inner_.unlock_shared(); }

  [[nodiscard]] bool entered() const { return entered_.load(std::memory_order_acquire); }
  [[nodiscard]] bool entered_shared() const { return entered_shared_.load(std::memory_order_acquire); }
  void forget() {
    entered_.store(false, std::memory_order_relaxed);
    entered_shared_.store(false, std::memory_order_relaxed);
  }

 private:
  L inner_;
  std::atomic<bool> entered_{false};
  std::atomic<bool> entered_shared_{false};
};

template <class Flag>
void wait_until(Flag&& raised) {
  while (!raised()) std::this_thread::yield();
}

// Lets the steady clock move past the moment the waiter was seen blocked. The waiter read its start time
// before announcing and reads its end time after our unlock, so its measured wait is then > 0 whatever
// the clock's resolution. This orders events; it assumes nothing about how long anything takes.
void let_clock_tick() {
  const auto seen = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() == seen) {
  }
}

struct increment_result {
  std::uint64_t counter = 0;
  bool overlapped = false;  // two holders were ever inside the critical section at once
};

// Both threads start incrementing together so that they really contend. Besides the plain counter, an
// occupancy count catches any overlap of two holders, even one too short to lose an increment.
template <class Lock>
increment_result increment_from_two_threads(Lock& lock, std::uint64_t per_thread) {
  increment_result result;
  std::atomic<int> ready{0};
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  auto work = [&] {
    ready.fetch_add(1, std::memory_order_relaxed);
    while (ready.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
    for (std::uint64_t i = 0; i < per_thread; ++i) {
      std::lock_guard guard(lock);
      // relaxed: the lock under test must do all the ordering; these only observe occupancy.
      if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlapped.store(true, std::memory_order_relaxed);
      ++result.counter;
      inside.fetch_sub(1, std::memory_order_relaxed);
    }
  };
  std::thread other(work);
  work();
  other.join();
  result.overlapped = overlapped.load(std::memory_order_relaxed);
  return result;
}

template <class Lock>
struct shared_block {
  Lock lock;
  std::uint64_t counter = 0;
  std::atomic<std::uint32_t> child_started{0};
};

int wait_for_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

TEST_CASE("spinlock is one standard-layout word that a shared segment can hold", "[locks]") {
  STATIC_REQUIRE(sizeof(spinlock) == 4);
  STATIC_REQUIRE(std::is_standard_layout_v<spinlock>);
  STATIC_REQUIRE(std::is_trivially_destructible_v<spinlock>);
  STATIC_REQUIRE(shmring::lockable<spinlock>);
  STATIC_REQUIRE(noexcept(std::declval<stats_lock<spinlock>&>().lock()));
  STATIC_REQUIRE(shmring::shared_lockable<stats_lock<std::shared_mutex>>);
  STATIC_REQUIRE_FALSE(shmring::shared_lockable<stats_lock<std::mutex>>);
  STATIC_REQUIRE_FALSE(shmring::shared_lockable<stats_lock<spinlock>>);
}

TEST_CASE("spinlock try_lock fails while held and succeeds once released", "[locks]") {
  spinlock lock;
  REQUIRE(lock.try_lock());
  CHECK_FALSE(lock.try_lock());
  lock.unlock();
  CHECK(lock.try_lock());
  lock.unlock();
}

TEMPLATE_TEST_CASE("two threads incrementing under the lock lose no update", "[locks]", spinlock, stats_lock<spinlock>,
                   stats_lock<std::mutex>, stats_lock<std::shared_mutex>, stats_lock<bip::interprocess_mutex>) {
  constexpr std::uint64_t per_thread = 1'000'000;
  TestType lock;
  const increment_result result = increment_from_two_threads(lock, per_thread);
  CHECK_FALSE(result.overlapped);
  CHECK(result.counter == 2 * per_thread);
  if constexpr (!std::is_same_v<TestType, spinlock>) {
    const lock_stats s = lock.snapshot();
    CHECK(s.acquisitions == 2 * per_thread);
    CHECK(s.contended <= s.acquisitions);
    CHECK(s.max_wait_ns <= s.wait_ns);
  }
}

TEMPLATE_TEST_CASE("uncontended acquisitions on one thread are counted exactly and none as contended", "[locks]",
                   stats_lock<spinlock>, stats_lock<std::mutex>, stats_lock<std::shared_mutex>,
                   stats_lock<bip::interprocess_mutex>) {
  TestType lock;
  for (int i = 0; i < 10; ++i) {
    std::lock_guard guard(lock);
  }
  for (int i = 0; i < 5; ++i) {
    std::unique_lock guard(lock, std::try_to_lock);
    CHECK(guard.owns_lock());
  }
  const lock_stats s = lock.snapshot();
  CHECK(s.acquisitions == 15);
  CHECK(s.contended == 0);
  CHECK(s.failed_try_locks == 0);
  CHECK(s.wait_ns == 0);
  CHECK(s.max_wait_ns == 0);
  CHECK(s.contention_ratio() == 0.0);
}

TEMPLATE_TEST_CASE("a try_lock that fails is counted apart and is not an acquisition", "[locks]", stats_lock<spinlock>,
                   stats_lock<std::mutex>, stats_lock<std::shared_mutex>, stats_lock<bip::interprocess_mutex>) {
  TestType lock;
  lock.lock();
  bool got = true;
  std::thread([&] {
    got = lock.try_lock();
    if (got) lock.unlock();
  }).join();
  lock.unlock();
  CHECK_FALSE(got);
  const lock_stats s = lock.snapshot();
  CHECK(s.acquisitions == 1);
  CHECK(s.failed_try_locks == 1);
  CHECK(s.contended == 0);
}

TEMPLATE_TEST_CASE("a blocked acquisition counts as contended with a non-zero wait", "[locks]", spinlock, std::mutex,
                   std::shared_mutex, bip::interprocess_mutex) {
  stats_lock<announcing_lock<TestType>> lock;
  lock.lock();
  lock.underlying().forget();  // in case our own try_lock failed spuriously and announced
  std::thread waiter([&] { std::lock_guard guard(lock); });
  wait_until([&] { return lock.underlying().entered(); });
  let_clock_tick();
  lock.unlock();
  waiter.join();

  const lock_stats s = lock.snapshot();
  CHECK(s.acquisitions == 2);
  CHECK(s.contended >= 1);
  CHECK(s.wait_ns > 0);
  CHECK(s.max_wait_ns > 0);
  CHECK(s.max_wait_ns <= s.wait_ns);
  CHECK(s.mean_contended_wait_ns() > 0.0);
}

TEST_CASE("shared and exclusive acquisitions of a shared_mutex are counted apart", "[locks]") {
  stats_lock<std::shared_mutex> lock;
  for (int i = 0; i < 3; ++i) {
    std::shared_lock guard(lock);
  }
  for (int i = 0; i < 2; ++i) {
    std::unique_lock guard(lock);
  }
  REQUIRE(lock.try_lock_shared());
  lock.unlock_shared();

  lock.lock();  // a writer holds it: a reader's try fails
  bool got = true;
  std::thread([&] {
    got = lock.try_lock_shared();
    if (got) lock.unlock_shared();
  }).join();
  lock.unlock();
  CHECK_FALSE(got);

  const lock_stats shared = lock.snapshot_shared();
  CHECK(shared.acquisitions == 4);
  CHECK(shared.failed_try_locks == 1);
  CHECK(shared.contended == 0);
  const lock_stats exclusive = lock.snapshot();
  CHECK(exclusive.acquisitions == 3);
  CHECK(exclusive.failed_try_locks == 0);
  CHECK(exclusive.contended == 0);
}

TEST_CASE("a reader blocked by a writer counts a contended shared acquisition", "[locks]") {
  stats_lock<announcing_lock<std::shared_mutex>> lock;
  lock.lock();
  lock.underlying().forget();
  std::thread reader([&] { std::shared_lock guard(lock); });
  wait_until([&] { return lock.underlying().entered_shared(); });
  let_clock_tick();
  lock.unlock();
  reader.join();

  const lock_stats shared = lock.snapshot_shared();
  CHECK(shared.acquisitions == 1);
  CHECK(shared.contended == 1);
  CHECK(shared.wait_ns > 0);
  CHECK(shared.max_wait_ns == shared.wait_ns);
  CHECK(lock.snapshot().acquisitions == 1);
}

TEST_CASE("a reader under the shared lock never sees a half-done write", "[locks]") {
  constexpr std::uint64_t rounds = 20'000;
  stats_lock<std::shared_mutex> lock;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::thread writer([&] {
    for (std::uint64_t i = 0; i < rounds; ++i) {
      std::unique_lock guard(lock);
      ++a;
      ++b;
    }
  });
  std::uint64_t torn = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    std::shared_lock guard(lock);
    if (a != b) ++torn;
  }
  writer.join();
  CHECK(torn == 0);
  CHECK(a == rounds);
  CHECK(lock.snapshot().acquisitions == rounds);
  CHECK(lock.snapshot_shared().acquisitions == rounds);
}

TEST_CASE("reset zeroes the lock statistics and leaves the lock usable", "[locks]") {
  stats_lock<std::shared_mutex> lock;
  lock.lock();
  lock.unlock();
  lock.lock_shared();
  lock.unlock_shared();
  lock.reset();
  CHECK(lock.snapshot() == lock_stats{});
  CHECK(lock.snapshot_shared() == lock_stats{});
  { std::lock_guard guard(lock); }
  CHECK(lock.snapshot().acquisitions == 1);
}

TEST_CASE("lock_stats derives ratios without dividing by zero and prints one line", "[locks]") {
  const lock_stats none{};
  CHECK(none.contention_ratio() == 0.0);
  CHECK(none.mean_wait_ns() == 0.0);
  CHECK(none.mean_contended_wait_ns() == 0.0);

  const lock_stats s{.acquisitions = 10, .contended = 4, .failed_try_locks = 1, .wait_ns = 2000, .max_wait_ns = 900};
  CHECK(s.contention_ratio() == Approx(0.4));
  CHECK(s.mean_wait_ns() == Approx(200.0));
  CHECK(s.mean_contended_wait_ns() == Approx(500.0));
  CHECK_THAT(s.to_string(), Catch::Contains("acquisitions=10") && Catch::Contains("contended=4 (40.0%)") &&
                                Catch::Contains("max_wait_ns=900"));
  std::ostringstream os;
  os << s;
  CHECK(os.str() == s.to_string());
}

TEST_CASE("stats_counter counts adds, loads and compare-exchanges", "[locks]") {
  stats_counter c{5};
  CHECK(c.increment() == 6);
  CHECK(c.fetch_add(4) == 6);
  CHECK(c.load() == 10);
  std::uint64_t expected = 10;
  CHECK(c.compare_exchange(expected, 20));
  CHECK(c.load() == 20);

  const shmring::counter_stats s = c.snapshot();
  CHECK(s.adds == 2);
  CHECK(s.loads == 2);
  CHECK(s.cas_attempts == 1);
  CHECK(s.cas_failures == 0);
  CHECK(s.operations() == 5);
}

TEST_CASE("a compare_exchange with a wrong expected value fails, is counted and reports the current value", "[locks]") {
  stats_counter c{7};
  std::uint64_t expected = 3;
  CHECK_FALSE(c.compare_exchange(expected, 100));
  CHECK(expected == 7);
  CHECK(c.load() == 7);
  CHECK(c.compare_exchange(expected, 8));  // the retry, from the value the failure reported
  CHECK(c.load() == 8);

  const shmring::counter_stats s = c.snapshot();
  CHECK(s.cas_attempts == 2);
  CHECK(s.cas_failures == 1);
  CHECK(s.cas_failure_ratio() == Approx(0.5));
  std::ostringstream os;
  os << s;
  CHECK_THAT(os.str(), Catch::Contains("cas_failures=1 (50.0%)"));
}

TEST_CASE("stats_counter loses no update under two threads and counts each CAS retry", "[locks]") {
  constexpr std::uint64_t per_thread = 50'000;
  stats_counter c;
  std::atomic<int> ready{0};
  auto work = [&] {
    ready.fetch_add(1, std::memory_order_relaxed);
    while (ready.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
    for (std::uint64_t i = 0; i < per_thread; ++i) {
      c.increment();
      std::uint64_t seen = c.load(std::memory_order_relaxed);
      while (!c.compare_exchange(seen, seen + 1)) {
      }
    }
  };
  std::thread other(work);
  work();
  other.join();

  CHECK(c.load() == 4 * per_thread);
  const shmring::counter_stats s = c.snapshot();
  CHECK(s.adds == 2 * per_thread);
  CHECK(s.loads == 2 * per_thread + 1);
  // Each of the 2 * per_thread CAS loops ends in exactly one success; every other attempt was a retry.
  CHECK(s.cas_attempts == 2 * per_thread + s.cas_failures);
}

TEST_CASE("reset zeroes the counter statistics and keeps its value", "[locks]") {
  stats_counter c{1};
  c.increment();
  std::uint64_t wrong = 0;
  CHECK_FALSE(c.compare_exchange(wrong, 5));
  c.reset();
  CHECK(c.snapshot() == shmring::counter_stats{});
  CHECK(c.load() == 2);
}

TEMPLATE_TEST_CASE("a lock in an anonymous shared mapping excludes a forked child", "[locks][ipc]", spinlock,
                   stats_lock<spinlock>) {
  constexpr std::uint64_t per_process = 1'000'000;
  bip::mapped_region region(bip::anonymous_shared_memory(sizeof(shared_block<TestType>)));
  REQUIRE(region.get_size() >= sizeof(shared_block<TestType>));
  auto* block = ::new (region.get_address()) shared_block<TestType>{};

  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child touches only the mapping and leaves with _exit: no Catch2 and no atexit handlers here.
    // release: pairs with the parent's acquire load below; only a start signal, it publishes nothing.
    block->child_started.store(1, std::memory_order_release);
    for (std::uint64_t i = 0; i < per_process; ++i) {
      std::lock_guard guard(block->lock);
      ++block->counter;
    }
    ::_exit(0);
  }

  // Start when the child has, so the two processes really contend; stop waiting if it died first.
  int status = 0;
  bool reaped = false;
  while (block->child_started.load(std::memory_order_acquire) == 0 && !reaped) {
    reaped = ::waitpid(pid, &status, WNOHANG) == pid;
    std::this_thread::yield();
  }
  for (std::uint64_t i = 0; i < per_process; ++i) {
    std::lock_guard guard(block->lock);
    ++block->counter;
  }
  if (!reaped) status = wait_for_child(pid);

  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(block->counter == 2 * per_process);
  if constexpr (!std::is_same_v<TestType, spinlock>) CHECK(block->lock.snapshot().acquisitions == 2 * per_process);
  block->~shared_block();
}
