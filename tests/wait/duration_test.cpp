// Durations saturate (issue 12, STYLE.md lesson 14): every duration that meets a clock - the argument of a timed
// call, options::open_timeout, wait_options::liveness_interval - is converted and added with saturation, and a
// timed wait ends at its deadline whatever its spin_iterations. Each test here failed before: hours::max() and
// its kind overflowed into "don't wait", open_timeout = nanoseconds::max() wrapped into the past (not_ready at
// once), liveness_interval = nanoseconds::max() made the sleep wrap into centuries, and 2^32 - 1 spin polls read
// no clock. The waits are released by events the test observes (the waiter's sleeps() counter, its thread seen
// asleep in the kernel), never by a sleep; the CTest timeout is the only hang guard.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/message.hpp>
#include <shmring/shmring.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

using namespace shmring;
using namespace std::chrono_literals;
using shmring_test::child_process;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {

/// Runs call() on a thread and returns its result once `waiting()` says the thread waits (or it returned): the
/// `release()` that answers the wait runs only then. Returns nothing if call() returned before anyone released it.
template <class R, class Call, class Waiting, class Release>
std::optional<R> answer_while_waiting(Call call, Waiting waiting, Release release) {
  std::optional<R> result;
  std::atomic<bool> done{false};
  std::thread t([&] {
    result = call();
    done.store(true, std::memory_order_release);
  });
  while (!done.load(std::memory_order_acquire) && !waiting()) ::sched_yield();
  // acquire: pairs with the release store above, so `result` is read only after the thread wrote it.
  const bool early = done.load(std::memory_order_acquire);
  if (!early) release();
  t.join();
  if (early) return std::nullopt;  // it returned by itself: the duration was not waited for
  return result;
}

/// The durations that overflowed a conversion to nanoseconds, or now() + d.
template <class F>
void for_each_huge_duration(F f) {
  SECTION("hours::max()") { f(std::chrono::hours::max()); }
  SECTION("seconds::max()") { f(std::chrono::seconds::max()); }
  SECTION("milliseconds::max()") { f(std::chrono::milliseconds::max()); }
  SECTION("nanoseconds::max()") { f(std::chrono::nanoseconds::max()); }
  SECTION("1000 years") { f(std::chrono::years(1000)); }
  SECTION("1e300 s as a double") { f(std::chrono::duration<double>(1e300)); }
}

}  // namespace

TEST_CASE("pop_for of a huge duration waits until a value arrives instead of returning at once", "[wait][duration]") {
  for_each_huge_duration([](auto d) {
    segment_guard g("dur-pop");
    auto p = producer<std::uint64_t>::create(g.name(), 8);
    auto c = consumer<std::uint64_t>::open(g.name());
    const std::uint64_t base = c.sleeps();
    const auto got = answer_while_waiting<std::optional<std::uint64_t>>(
        [&] { return c.pop_for(d); }, [&] { return c.sleeps() != base; },  // the consumer sleeps on its futex
        [&] { REQUIRE(p.try_push(mix(7))); });
    REQUIRE(got.has_value());  // nothing: pop_for returned before the push, without waiting
    REQUIRE(got->has_value());
    CHECK(**got == mix(7));
  });
}

TEST_CASE("push_for of a huge duration waits for room on a full ring", "[wait][duration]") {
  segment_guard g("dur-push");
  auto p = producer<std::uint64_t>::create(g.name(), 2);
  auto c = consumer<std::uint64_t>::open(g.name());
  REQUIRE(p.try_push(1));
  REQUIRE(p.try_push(2));
  const std::uint64_t base = p.sleeps();
  const auto pushed = answer_while_waiting<bool>([&] { return p.push_for(3, std::chrono::hours::max()); },
                                                 [&] { return p.sleeps() != base; },
                                                 [&] { REQUIRE(c.try_pop() == std::optional<std::uint64_t>(1)); });
  REQUIRE(pushed.has_value());
  CHECK(*pushed);
  CHECK(c.try_pop() == std::optional<std::uint64_t>(2));
  CHECK(c.try_pop() == std::optional<std::uint64_t>(3));
}

TEST_CASE("receive_for, read_for and send_for of a huge duration wait", "[wait][duration][message]") {
  segment_guard g("dur-msg");
  auto p = message_producer::create(g.name(), 128);
  auto c = message_consumer::open(g.name());
  const std::string text = "answered";

  SECTION("receive_for(hours::max())") {
    const std::uint64_t base = c.sleeps();
    const auto got = answer_while_waiting<std::optional<message>>(
        [&] { return c.receive_for(std::chrono::hours::max()); }, [&] { return c.sleeps() != base; },
        [&] { REQUIRE(p.try_send(text_bytes(text))); });
    REQUIRE(got.has_value());
    REQUIRE(got->has_value());
    CHECK((*got)->text() == text);
  }
  SECTION("read_for(seconds::max())") {
    const std::uint64_t base = c.sleeps();
    const auto got = answer_while_waiting<std::uint64_t>(
        [&] {
          const auto v = c.read_for(std::chrono::seconds::max());
          const std::uint64_t n = v ? v->payload.size() : 0;
          c.release();
          return n;
        },
        [&] { return c.sleeps() != base; }, [&] { REQUIRE(p.try_send(text_bytes(text))); });
    REQUIRE(got.has_value());
    CHECK(*got == text.size());
  }
  SECTION("send_for(milliseconds::max()) on a full ring") {
    const std::vector<std::byte> big(p.max_record_payload());
    REQUIRE(p.try_send(big));  // one record of half the ring: a second one does not fit
    REQUIRE(p.try_send(std::span<const std::byte>(big).first(16)));
    const std::uint64_t base = p.sleeps();
    const auto sent = answer_while_waiting<bool>([&] { return p.send_for(big, std::chrono::milliseconds::max()); },
                                                 [&] { return p.sleeps() != base; },
                                                 [&] { REQUIRE(c.try_receive().has_value()); });
    REQUIRE(sent.has_value());
    CHECK(*sent);
  }
}

TEST_CASE("a negative duration does not wait", "[wait][duration]") {
  segment_guard g("dur-neg");
  auto p = producer<std::uint64_t>::create(g.name(), 2);
  auto c = consumer<std::uint64_t>::open(g.name());
  CHECK_FALSE(c.pop_for(-1h).has_value());
  CHECK_FALSE(c.pop_for(std::chrono::nanoseconds::min()).has_value());
  CHECK_FALSE(c.pop_for(std::chrono::duration<double>(-1e300)).has_value());
  REQUIRE(p.try_push(1));
  REQUIRE(p.try_push(2));
  CHECK_FALSE(p.push_for(3, std::chrono::hours::min()));
  CHECK(p.pushed() == 2);
}

TEST_CASE("a timed wait with liveness_interval = nanoseconds::max() ends at its deadline", "[wait][duration]") {
  // Before, now + interval wrapped into the past and the futex sleep was computed from the wrapped value: pop_for
  // slept for centuries. The CTest timeout is the hang guard.
  const wait_policy policy = GENERATE(wait_policy::sleep, wait_policy::yield, wait_policy::spin);
  segment_guard g("dur-live");
  options o;
  o.wait.policy = policy;
  o.wait.liveness_interval = std::chrono::nanoseconds::max();
  auto p = producer<std::uint64_t>::create(g.name(), 2, o);
  auto c = consumer<std::uint64_t>::open(g.name(), o);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(c.pop_for(1ms).has_value());
  REQUIRE(p.try_push(1));
  REQUIRE(p.try_push(2));
  CHECK_FALSE(p.push_for(3, 1ms));
  CHECK(c.pop_for(1ms) == std::optional<std::uint64_t>(1));
}

TEST_CASE("a timed wait ends at its deadline whatever spin_iterations and yield_iterations are", "[wait][duration]") {
  // Before, the spin phase read no clock: 2^32 - 1 polls with a pause ran for minutes past a 1 ms deadline.
  // The CTest timeout (60 s for this file) is the hang guard: no assertion here measures time.
  const wait_policy policy = GENERATE(wait_policy::sleep, wait_policy::yield, wait_policy::spin);
  segment_guard g("dur-spin");
  options o;
  o.wait.policy = policy;
  o.wait.spin_iterations = std::numeric_limits<std::uint32_t>::max();
  o.wait.yield_iterations = std::numeric_limits<std::uint32_t>::max();
  auto p = producer<std::uint64_t>::create(g.name(), 2, o);
  auto c = consumer<std::uint64_t>::open(g.name(), o);
  for (int i = 0; i < 4; ++i) CHECK_FALSE(c.pop_for(1ms).has_value());
  REQUIRE(p.try_push(1));
  REQUIRE(p.try_push(2));
  for (int i = 0; i < 4; ++i) CHECK_FALSE(p.push_for(3, 1ms));
}

namespace {
int g_release_fd = -1;
void block_before_ready(detail::creation_step s) noexcept {
  // The header is written, ready is still 0 and this process holds the admin lock: an opener waits.
  if (s == detail::creation_step::header_written) (void)shmring_test::wait_released(g_release_fd);
}

/// The system call a thread of this process is blocked in (first field of /proc/self/task/TID/syscall), or -1.
long blocked_in(long tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  if (!(f >> first) || first.empty() || first[0] < '0' || first[0] > '9') return -1;  // "running", or unreadable
  return std::stol(first);
}
bool sleeping_in_nanosleep(long tid) {
  const long nr = blocked_in(tid);
#if defined(SYS_nanosleep)
  if (nr == SYS_nanosleep) return true;
#endif
  return nr == SYS_clock_nanosleep;
}
}  // namespace

// args: name release_fd. Creates a producer ring, stopping at header_written until released; then reports
// "created" and waits for a second release before exiting.
SHMRING_CHILD(late_creator) {
  shmring_test::die_with_parent();
  g_release_fd = std::stoi(args.at(1));
  detail::creation_hook = &block_before_ready;
  auto p = producer<std::uint64_t>::create(args.at(0), 8);
  detail::creation_hook = nullptr;
  shmring_test::report("created");
  return shmring_test::wait_released(g_release_fd) ? 0 : 1;
}

TEST_CASE("open with open_timeout = nanoseconds::max() waits for a creator that becomes ready later", "[wait][duration]") {
  // Before, now + open_timeout wrapped into the past: open threw not_ready at its first look.
  segment_guard g("dur-open");
  shmring_test::release_pipe gate;
  child_process creator = gate.inherit([&] {
    return child_process("late_creator", {g.name(), std::to_string(gate.read_fd())}, true);
  });
  // The segment exists (not ready) once its name is there; the creator is then blocked before making it ready.
  while (::access(("/dev/shm/" + std::string(object_prefix) + g.name()).c_str(), F_OK) != 0) ::sched_yield();
  options o;
  o.open_timeout = std::chrono::nanoseconds::max();
  std::atomic<long> tid{0};
  const auto opened = answer_while_waiting<bool>(
      [&] {
        tid.store(static_cast<long>(::syscall(SYS_gettid)), std::memory_order_release);
        try {
          auto c = consumer<std::uint64_t>::open(g.name(), o);
          return c.producer_state() == peer_state::alive;
        } catch (const error& e) {
          UNSCOPED_INFO("open threw: " << e.what());
          return false;
        }
      },
      // The opener has looked at the unready header many times and backs off in nanosleep: it waits.
      [&] {
        const long t = tid.load(std::memory_order_acquire);
        return t != 0 && sleeping_in_nanosleep(t);
      },
      [&] { gate.release(); });
  REQUIRE(opened.has_value());  // nothing: open returned (threw not_ready) before the creator was released
  CHECK(*opened);
  gate.release();  // let the creator exit
  CHECK(creator.wait() == 0);
}

TEST_CASE("a not-ready segment modified in the far future is not stale, one modified long ago is", "[wait][duration]") {
  // stale.hpp judged a not-ready segment by now - mtime in nanoseconds: a year-2445 mtime (anyone who may write the
  // object may set it) overflowed the conversion, the age wrapped positive and the segment was "stale" at once.
  segment_guard g("dur-mtime");
  const segment seg = segment::create(g.name(), sizeof(layout::header));  // zero: not ready; admin lock free
  timespec times[2] = {{0, UTIME_OMIT}, {15'000'000'000, 0}};
  REQUIRE(::futimens(seg.fd(), times) == 0);
  CHECK_FALSE(is_stale(g.name()));
  times[1] = {0, 0};  // 1970
  REQUIRE(::futimens(seg.fd(), times) == 0);
  // Stale now (unless a sweep by another test run on this machine removed it first, which says the same).
  CHECK((is_stale(g.name()) || !seg.still_named()));
}
