// Timed waits with each wait policy: push_for on a full ring and pop_for on an empty one give up (false /
// nothing) without touching the ring, never before their deadline; a wait that is answered returns the element;
// and liveness: a waiting side never takes a producer that is attaching right now for a dead one.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "line_reader.hpp"
#include "process.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <chrono>
#include <string>

using namespace shmring;
using namespace std::chrono_literals;
using shmring_test::child_process;
using shmring_test::line_reader;
using shmring_test::mix;
using shmring_test::report;
using shmring_test::segment_guard;

namespace {
using clock_type = std::chrono::steady_clock;

options with_policy(wait_policy p) {
  options o;
  o.wait.policy = p;
  o.wait.liveness_interval = 2ms;  // several liveness checks inside each timed wait
  return o;
}

const char* policy_name(wait_policy p) {
  return p == wait_policy::spin ? "spin" : p == wait_policy::yield ? "yield" : "sleep";
}
}  // namespace

TEST_CASE("pop_for on an empty ring and push_for on a full one time out, with each wait policy", "[ipc][wait]") {
  const wait_policy policy = GENERATE(wait_policy::spin, wait_policy::yield, wait_policy::sleep);
  CAPTURE(policy_name(policy));
  segment_guard g("timeout");
  const options o = with_policy(policy);
  auto p = producer<std::uint64_t>::create(g.name(), 4, o);
  auto c = consumer<std::uint64_t>::open(g.name(), o);
  REQUIRE(p.consumer_state() == peer_state::alive);
  REQUIRE(c.producer_state() == peer_state::alive);

  SECTION("pop_for on an empty ring returns nothing, not before its deadline") {
    for (const auto d : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(1ms), std::chrono::nanoseconds(15ms)}) {
      const auto t0 = clock_type::now();
      CHECK_FALSE(c.pop_for(d).has_value());
      CHECK(clock_type::now() - t0 >= d);  // a deadline, not a performance limit: it must not return early
    }
    CHECK(c.popped() == 0);
    // and once something is there, the same call returns it at once
    REQUIRE(p.try_push(mix(1)));
    const auto v = c.pop_for(1h);
    REQUIRE(v.has_value());
    CHECK(*v == mix(1));
  }

  SECTION("push_for on a full ring returns false and leaves the ring as it was") {
    for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(p.try_push(mix(i)));
    for (const auto d : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(1ms), std::chrono::nanoseconds(15ms)}) {
      const auto t0 = clock_type::now();
      CHECK_FALSE(p.push_for(0xdead, d));
      CHECK(clock_type::now() - t0 >= d);
    }
    CHECK(p.pushed() == 4);
    for (std::uint64_t i = 0; i < 4; ++i) {
      const auto v = c.pop_for(0ns);
      REQUIRE(v.has_value());
      CHECK(*v == mix(i));
    }
    CHECK_FALSE(c.try_pop().has_value());
    // with room again, push_for succeeds at once
    CHECK(p.push_for(mix(9), 1h));
    CHECK(c.pop() == mix(9));
  }

  SECTION("with the peer absent (never attached or detached cleanly) a timed wait times out, not peer_dead") {
    c.detach();
    REQUIRE(p.consumer_state() == peer_state::absent);
    for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(p.try_push(mix(i)));
    CHECK_FALSE(p.push_for(1, 5ms));
    p.detach();
    auto c2 = consumer<std::uint64_t>::open(g.name(), o);
    REQUIRE(c2.producer_state() == peer_state::absent);
    for (std::uint64_t i = 0; i < 4; ++i) CHECK(c2.pop_for(0ns) == std::optional<std::uint64_t>(mix(i)));
    CHECK_FALSE(c2.pop_for(5ms).has_value());
  }
}

// args: name value. Opens the ring as producer and pushes value, then exits (detaching cleanly).
SHMRING_CHILD(late_producer) {
  shmring_test::die_with_parent();
  auto p = producer<std::uint64_t>::open(args.at(0));
  report("attached");
  p.push(std::stoull(args.at(1)));
  return 0;
}

TEST_CASE("pop_for returns what another process pushes while it waits, with each wait policy", "[ipc][wait]") {
  const wait_policy policy = GENERATE(wait_policy::spin, wait_policy::yield, wait_policy::sleep);
  CAPTURE(policy_name(policy));
  segment_guard g("answered");
  options o = with_policy(policy);
  o.persistent = true;  // the producer leaves it empty and detached: keep it until the guard removes it
  auto c = consumer<std::uint64_t>::create(g.name(), 8, o);
  child_process prod("late_producer", {g.name(), std::to_string(mix(42))}, true);
  const auto v = c.pop_for(1h);  // the producer is started; it answers
  REQUIRE(v.has_value());
  CHECK(*v == mix(42));
  CHECK(prod.wait() == 0);
}

// args: name count. Attaches as producer count times, pushing i and detaching cleanly each time.
SHMRING_CHILD(reattaching_producer) {
  shmring_test::die_with_parent();
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) {
    auto p = producer<std::uint64_t>::open(args.at(0));
    p.push(mix(i));
  }
  return 0;
}

TEST_CASE("a waiting consumer never takes a producer that is attaching for a dead one", "[ipc][wait][liveness]") {
  // The liveness check runs on every wait round here (interval 1 ns), so it keeps meeting the producer
  // between "lock taken" and "slot marked attached". Reading the lock and the slot without the admin lock
  // could pair "lock free" with "attached" and throw peer_dead at a live process.
  segment_guard g("reattach");
  options o;
  o.wait.liveness_interval = std::chrono::nanoseconds(1);
  o.wait.spin_iterations = 0;
  o.persistent = true;
  auto c = consumer<std::uint64_t>::create(g.name(), 8, o);
  constexpr std::uint64_t n = 1000;
  child_process prod("reattaching_producer", {g.name(), std::to_string(n)});
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    if (c.pop() != mix(i)) ++wrong;  // throws peer_dead on a false verdict
  CHECK(wrong == 0);
  CHECK(prod.wait() == 0);
}

TEST_CASE("a slot that says attached with its lock free is death, whoever holds the admin lock", "[ipc][liveness]") {
  segment_guard g("torn");
  auto c = consumer<std::uint64_t>::create(g.name(), 8);
  {
    auto p = producer<std::uint64_t>::open(g.name());
    REQUIRE(c.producer_state() == peer_state::alive);
  }
  REQUIRE(c.producer_state() == peer_state::absent);  // detached cleanly
  // What a producer that died attached leaves: its slot says attached, its lock byte is free. An attacher takes
  // its lock before it stores "attached" (and a reader that sees the store then sees the lock), so no live
  // attacher ever looks like this; the verdict needs no admin lock, and a third process holding that lock (here)
  // cannot turn a death into "alive".
  auto admin = segment::open(g.name(), segment::access::read_write);
  REQUIRE(admin.try_lock(lock_byte::admin));
  segment raw = segment::open(g.name(), segment::access::read_write);
  raw.map(sizeof(layout::header));
  auto* h = reinterpret_cast<layout::header*>(raw.data());
  h->attach.producer.state.store(static_cast<std::uint32_t>(layout::attach_state::attached), std::memory_order_release);
  CHECK(c.producer_state() == peer_state::dead);
  admin.unlock(lock_byte::admin);
  CHECK(c.producer_state() == peer_state::dead);
}
