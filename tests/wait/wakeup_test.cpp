// The wake-up protocol between two real processes: a side sleeping in the kernel is always woken by its peer's
// publish (100,000 sleep/wake cycles, and a lost wake-up hangs the test until its CTest timeout fails it), and a
// busy stream of ten million messages arrives whole and in order, with no wake-up system call at all from sides
// that spin. How few wake-up calls a sleeping side makes in a busy stream depends on scheduling: it is printed
// here and belongs to the benchmarks, not to an assertion.
#include <catch2/catch.hpp>

#include "sanitizers.hpp"
#include "line_reader.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"
#include "wake_timing.hpp"

#include <shmring/shmring.hpp>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <thread>

using namespace shmring;
using namespace shmring_test;

namespace {

// What crosses in each direction: the sequence number, a check of it, and the sender's own sleep count read
// after its previous pop returned (so the receiver can tell when the sender has gone to sleep again).
struct msg {
  std::uint64_t seq;
  std::uint64_t check;
  std::uint64_t sender_sleeps;
};

std::string stats_line(std::uint64_t wakes, std::uint64_t sleeps) {
  return std::to_string(wakes) + " " + std::to_string(sleeps);
}

constexpr std::uint64_t cycles = 100'000;
constexpr std::uint64_t forced_sleeps = (cycles + 7) / 8;  // cycles with i % 8 == 0

}  // namespace

// args: ping pong spin. Pops cycle i from ping and answers on pong, timing its push against the parent as
// time_push says. Reports "ok <wake_calls> <sleeps>" of its two ends, or "bad <i>".
SHMRING_CHILD(pong_child) {
  shmring_test::die_with_parent();
  const options o = sleepy(static_cast<std::uint32_t>(std::stoul(args.at(2))));
  auto in = consumer<msg>::open(args.at(0), o);
  auto out = producer<msg>::open(args.at(1), o);
  const header_view pong(args.at(1));
  for (std::uint64_t i = 0; i < cycles; ++i) {
    const msg m = in.pop();
    if (m.seq != i || m.check != mix(i)) {
      report("bad " + std::to_string(i));
      return 3;
    }
    time_push(i, pong.h().consumer_wait, pong.h().consumer_stats, m.sender_sleeps);
    out.push(msg{i, mix(i), in.sleeps()});
  }
  report("ok " + stats_line(out.wake_calls(), in.sleeps()));
  return 0;
}

TEST_CASE("a side sleeping in the kernel is woken by every push of another process: 100,000 cycles", "[ipc][wait]") {
  const std::uint32_t spin = GENERATE(0u, 64u);
  CAPTURE(spin);
  if (!shmring::detail::heavy_barrier_available())
    WARN("membarrier(GLOBAL_EXPEDITED) is unavailable: sleeps fall back to short timeouts and a lost wake-up "
         "would only be slow, not a hang");
  segment_guard ping("ping"), pong("pong");
  const options o = sleepy(spin);
  auto out = producer<msg>::create(ping.name(), 16, o);
  auto in = consumer<msg>::create(pong.name(), 16, o);
  const header_view ping_view(ping.name());
  child_process child("pong_child", {ping.name(), pong.name(), std::to_string(spin)}, true);
  std::uint64_t wrong = 0, child_sleeps_seen = 0;  // the child's sleep count after its last pop
  for (std::uint64_t i = 0; i < cycles; ++i) {
    time_push(i, ping_view.h().consumer_wait, ping_view.h().consumer_stats, child_sleeps_seen);
    out.push(msg{i, mix(i), in.sleeps()});
    const msg a = in.pop();
    if (a.seq != i || a.check != mix(i)) ++wrong;
    child_sleeps_seen = a.sender_sleeps;
  }
  const auto w = final_report(child, 3);
  REQUIRE(w[0] == "ok");
  CHECK(wrong == 0);
  const std::uint64_t child_wakes = std::stoull(w[1]), child_sleeps = std::stoull(w[2]);
  INFO("parent: " << out.wake_calls() << " wake calls, " << in.sleeps() << " sleeps; child: " << child_wakes
                  << " wake calls, " << child_sleeps << " sleeps");
  // Every eighth cycle each side pushed only once its peer was inside (or entering) the futex, so each side slept
  // at least that often, and every one of those sleeps ended with the peer's push: none was lost (a lost one
  // sleeps for the hour-long liveness interval, and the CTest timeout fails the test).
  CHECK(in.sleeps() >= forced_sleeps);
  CHECK(child_sleeps >= forced_sleeps);
  CHECK(out.wake_calls() > 0);
  CHECK(child_wakes > 0);
  // A wake call is made only for a sleeper that announced itself, at most once per push.
  CHECK(out.wake_calls() <= cycles);
  CHECK(child_wakes <= cycles);
  std::printf("ping-pong spin=%u: parent %" PRIu64 " wake calls, %" PRIu64 " sleeps; child %" PRIu64
              " wake calls, %" PRIu64 " sleeps\n",
              spin, out.wake_calls(), in.sleeps(), child_wakes, child_sleeps);
}

// ------------------------------------------------------------------------------------------------ busy stream

namespace {
constexpr std::uint64_t stream_count = shmring_test::scaled(10'000'000, 1'000'000);

options with_policy(wait_policy p) {
  options o;
  o.wait.policy = p;
  return o;
}
}  // namespace

// args: name count policy. Pushes mix(0..count-1) with push(); reports "ok <wake_calls> <sleeps>".
SHMRING_CHILD(stream_producer) {
  shmring_test::die_with_parent();
  auto p = producer<std::uint64_t>::open(args.at(0), with_policy(static_cast<wait_policy>(std::stoi(args.at(2)))));
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) p.push(mix(i));
  report("ok " + stats_line(p.wake_calls(), p.sleeps()));
  return 0;
}

TEST_CASE("a busy stream of ten million messages arrives in order, and spinning sides make no wake-up calls",
          "[ipc][stress][wait]") {
  const wait_policy policy = GENERATE(wait_policy::sleep, wait_policy::spin);
  CAPTURE(static_cast<int>(policy));
  segment_guard g("busy");
  auto c = consumer<std::uint64_t>::create(g.name(), 4096, with_policy(policy));
  child_process prod("stream_producer", {g.name(), std::to_string(stream_count), std::to_string(static_cast<int>(policy))},
                     true);
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < stream_count; ++i)
    if (c.pop() != mix(i)) ++wrong;
  const auto w = final_report(prod, 3);
  CHECK(wrong == 0);
  const std::uint64_t producer_wakes = std::stoull(w[1]), producer_sleeps = std::stoull(w[2]);
  const std::uint64_t total = producer_wakes + c.wake_calls();
  std::printf("busy stream of %" PRIu64 " (policy %d): producer %" PRIu64 " wake calls / %" PRIu64
              " sleeps, consumer %" PRIu64 " wake calls / %" PRIu64 " sleeps\n",
              stream_count, static_cast<int>(policy), producer_wakes, producer_sleeps, c.wake_calls(), c.sleeps());
  INFO("wake calls: producer " << producer_wakes << ", consumer " << c.wake_calls());
  if (policy == wait_policy::spin) {
    // A spinning side never announces a sleep, so its peer never makes the call: exactly zero.
    CHECK(total == 0);
    CHECK(producer_sleeps == 0);
    CHECK(c.sleeps() == 0);
  }
}
