// Liveness without false alarms. Liveness is a kernel file lock held by each attached side, not a heartbeat:
//  - a peer stopped with SIGSTOP for a hundred liveness intervals (counted by the waiting side's own futex
//    sleeps, each bounded by one interval) still holds its lock: the waiting side keeps waiting (no peer_dead) and
//    gets every value, checked, after SIGCONT; both for a consumer waiting for data and a producer waiting for room;
//  - a peer in another PID (and user) namespace, started with unshare, whose pid means nothing in ours: it is
//    seen alive while it runs and dead (errc::peer_dead from the waiting call) once it is killed, in both
//    directions (the namespaced process as producer and as consumer).
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "await.hpp"
#include "errors.hpp"
#include "options.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <csignal>
#include <string>
#include <thread>

using namespace shmring;
using shmring_test::await;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::command_process;
using shmring_test::mix;
using shmring_test::raw_map;
using shmring_test::read_line;
using shmring_test::say;
using shmring_test::segment_guard;

namespace {
constexpr std::uint64_t capacity = 64;
constexpr std::uint64_t total = 4096;
constexpr std::uint64_t half = 1000;
constexpr std::uint64_t stopped_intervals = 100;

options opts() { return shmring_test::with_timeouts(std::chrono::seconds(10), std::chrono::milliseconds(1)); }

std::uint64_t num(const std::string& s) { return std::stoull(s); }

// The waiting side's result as an exit code: 0 all values right, 2 a wrong value, 10 + errc on an error.
int exit_code_of(const error& e) { return 10 + static_cast<int>(e.code()); }
}  // namespace

// args: name. Creates the ring as consumer, says "created", pops and checks `total` values.
SHMRING_CHILD(live_consumer) {
  try {
    auto c = consumer<std::uint64_t>::create(args.at(0), capacity, opts());
    say("created");
    for (std::uint64_t i = 0; i < total; ++i)
      if (c.pop() != mix(i)) return 2;
    return 0;
  } catch (const error& e) {
    return exit_code_of(e);
  }
}

// args: name. Opens as producer, pushes `half` values, stops itself, then pushes the rest.
SHMRING_CHILD(stopping_producer) {
  auto p = producer<std::uint64_t>::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < half; ++i) p.push(mix(i));
  ::raise(SIGSTOP);
  for (std::uint64_t i = half; i < total; ++i) p.push(mix(i));
  return 0;
}

// args: name. Creates the ring as producer, says "created", pushes `total` values (waiting for room).
SHMRING_CHILD(live_producer) {
  try {
    auto p = producer<std::uint64_t>::create(args.at(0), capacity, opts());
    say("created");
    for (std::uint64_t i = 0; i < total; ++i) p.push(mix(i));
    return 0;
  } catch (const error& e) {
    return exit_code_of(e);
  }
}

// args: name. Opens as consumer, pops `half` values, stops itself, then pops and checks the rest.
SHMRING_CHILD(stopping_consumer) {
  auto c = consumer<std::uint64_t>::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < half; ++i)
    if (c.pop() != mix(i)) return 2;
  ::raise(SIGSTOP);
  for (std::uint64_t i = half; i < total; ++i)
    if (c.pop() != mix(i)) return 2;
  return 0;
}

TEST_CASE("a producer stopped for a hundred liveness intervals is not declared dead", "[hardening][liveness]") {
  segment_guard g("sigstop-prod");
  child_process cons("live_consumer", {g.name()}, true);
  REQUIRE(read_line(cons.output_fd()) == "created");
  child_process prod("stopping_producer", {g.name()});
  REQUIRE(shmring_test::wait_stopped(prod.pid()));
  raw_map m(g.name());
  auto& h = m.h();
  // The consumer drains the first half and then waits; every futex sleep it makes is bounded by one liveness
  // interval and followed by a liveness check. Wait for a hundred of them while the producer is stopped.
  await([&] { return h.tail.value.load(std::memory_order_acquire) == half; });
  const std::uint64_t s0 = h.consumer_stats.sleeps.load(std::memory_order_relaxed);
  await([&] { return h.consumer_stats.sleeps.load(std::memory_order_relaxed) >= s0 + stopped_intervals; });
  // The stopped process still holds its lock: alive, as any third process sees it.
  segment seg = segment::open(g.name(), segment::access::read_only);
  CHECK(seg.locked_by_other(lock_byte::producer));
  CHECK(h.tail.value.load() == half);  // still waiting: nothing was consumed, nothing thrown
  REQUIRE(::kill(prod.pid(), SIGCONT) == 0);
  CHECK(prod.wait() == 0);
  CHECK(cons.wait() == 0);  // every value, in order; no peer_dead (that would be 10 + 15)
}

TEST_CASE("a consumer stopped for a hundred liveness intervals is not declared dead", "[hardening][liveness]") {
  segment_guard g("sigstop-cons");
  child_process prod("live_producer", {g.name()}, true);
  REQUIRE(read_line(prod.output_fd()) == "created");
  child_process cons("stopping_consumer", {g.name()});
  REQUIRE(shmring_test::wait_stopped(cons.pid()));
  raw_map m(g.name());
  auto& h = m.h();
  // The producer fills the ring and waits for room.
  await([&] { return h.head.value.load(std::memory_order_acquire) == half + capacity; });
  const std::uint64_t s0 = h.producer_stats.sleeps.load(std::memory_order_relaxed);
  await([&] { return h.producer_stats.sleeps.load(std::memory_order_relaxed) >= s0 + stopped_intervals; });
  segment seg = segment::open(g.name(), segment::access::read_only);
  CHECK(seg.locked_by_other(lock_byte::consumer));
  CHECK(h.head.value.load() == half + capacity);
  REQUIRE(::kill(cons.pid(), SIGCONT) == 0);
  CHECK(cons.wait() == 0);
  CHECK(prod.wait() == 0);
}

namespace {
// unshare runs the command in new user and PID namespaces (we map to root inside; /dev/shm is shared).
std::vector<std::string> in_new_pid_namespace(const std::vector<std::string>& cmd) {
  std::vector<std::string> v{"unshare", "--user", "--pid", "--fork", "--map-root-user", "--kill-child=SIGKILL"};
  v.insert(v.end(), cmd.begin(), cmd.end());
  return v;
}

bool skip_without_unshare() {
  try {
    command_process probe(in_new_pid_namespace({"true"}));
    if (probe.wait() == 0) return false;
  } catch (const std::exception&) {
  }
  WARN("SKIPPED: `unshare --user --pid --fork --map-root-user` is not permitted here");
  return true;
}
}  // namespace

// args: name. Opens as producer inside the namespace, pushes `half` values, reports its pid there, waits to be killed.
SHMRING_CHILD(ns_producer) {
  auto p = producer<std::uint64_t>::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < half; ++i) p.push(mix(i));
  say("pid " + std::to_string(::getpid()));
  for (;;) ::pause();
}

// args: name. Opens as consumer inside the namespace, pops and checks `half` values, says "got", then waits for
// more: exits 10 + errc (25 = peer_dead) when that wait ends in an error, 3 if it ever returned a value.
SHMRING_CHILD(ns_consumer) {
  try {
    auto c = consumer<std::uint64_t>::open(args.at(0), opts());
    for (std::uint64_t i = 0; i < half; ++i)
      if (c.pop() != mix(i)) return 2;
    say("got pid " + std::to_string(::getpid()));
    (void)c.pop();
    return 3;
  } catch (const error& e) {
    return exit_code_of(e);
  }
}

// args: name. Creates the ring as producer, says "created", pushes `half` values, waits to be killed.
SHMRING_CHILD(host_producer) {
  auto p = producer<std::uint64_t>::create(args.at(0), capacity, opts());
  say("created");
  for (std::uint64_t i = 0; i < half; ++i) p.push(mix(i));
  for (;;) ::pause();
}

TEST_CASE("a producer in another PID namespace is alive while it runs and dead once killed", "[hardening][liveness]") {
  if (skip_without_unshare()) return;
  segment_guard g("pidns-prod");
  auto c = consumer<std::uint64_t>::create(g.name(), capacity, opts());
  command_process ns(in_new_pid_namespace({shmring_test::self_exe(), "--child", "ns_producer", g.name()}));
  for (std::uint64_t i = 0; i < half; ++i) REQUIRE(c.pop() == mix(i));
  const std::string line = read_line(ns.output_fd());
  REQUIRE(line.rfind("pid ", 0) == 0);
  const std::uint64_t pid_inside = num(line.substr(4));
  CAPTURE(pid_inside, ns.pid());
  CHECK(pid_inside != static_cast<std::uint64_t>(ns.pid()));  // its pid means nothing here...
  CHECK(c.producer_state() == peer_state::alive);              // ...yet it is seen alive
  CHECK(c.pop_for(std::chrono::milliseconds(20)) == std::nullopt);  // a wait that times out, no peer_dead
  CHECK(c.producer_state() == peer_state::alive);
  ns.kill_now();  // unshare dies; --kill-child SIGKILLs the namespaced producer
  CHECK(code_of([&] { (void)c.pop(); }) == errc::peer_dead);
  CHECK(c.producer_state() == peer_state::dead);
}

TEST_CASE("a consumer in another PID namespace sees our producer alive, then dead once killed",
          "[hardening][liveness]") {
  if (skip_without_unshare()) return;
  segment_guard g("pidns-cons");
  child_process prod("host_producer", {g.name()}, true);
  REQUIRE(read_line(prod.output_fd()) == "created");
  command_process ns(in_new_pid_namespace({shmring_test::self_exe(), "--child", "ns_consumer", g.name()}));
  const std::string line = read_line(ns.output_fd());
  REQUIRE(line.rfind("got pid ", 0) == 0);  // all `half` values checked inside the namespace
  segment seg = segment::open(g.name(), segment::access::read_only);
  CHECK(seg.locked_by_other(lock_byte::consumer));  // the namespaced consumer, seen from here
  CHECK(seg.locked_by_other(lock_byte::producer));
  raw_map m(g.name());
  CHECK(m.h().attach.consumer.pid.load() == num(line.substr(8)));  // the pid it has in its own namespace
  prod.kill_now();
  CHECK(ns.wait() == 10 + static_cast<int>(errc::peer_dead));  // its waiting pop() ended in peer_dead
}
