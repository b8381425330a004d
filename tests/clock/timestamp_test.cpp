// Record timestamps (detail/clock.hpp) are CLOCK_MONOTONIC nanoseconds from whichever source the process uses: each
// lies between clock_gettime(CLOCK_MONOTONIC) reads taken just before and just after it (within the documented
// accuracy, checked here with a generous 1 ms: an accuracy bound, not a speed), a thread's stamps never decrease,
// and a message stamped in another process lies between that process's clock reads around its send. The stamps run
// for 10 ms of the clock, so the TSC source (where used) is past its 2 ms calibration and re-anchors several times.
#include <catch2/catch.hpp>

#include "process.hpp"
#include "segment_guard.hpp"

#include <shmring/detail/clock.hpp>
#include <shmring/shmring.hpp>

#include <cstdint>
#include <cstring>
#include <string>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::segment_guard;

namespace {

constexpr std::uint64_t tolerance_ns = 1'000'000;
constexpr std::uint64_t run_ns = 10'000'000;

struct stamped {
  std::uint64_t seq;
  std::uint64_t before_ns;  // the sender's clock_gettime before the send
  std::uint64_t after_ns;   // ... after the previous send (0 for the first)
};

}  // namespace

// args: name. Sends messages for run_ns of the clock; each payload carries the clock read before its send and
// after the one before. A last message of sequence ~0 ends the stream.
SHMRING_CHILD(stamping_sender) {
  auto p = message_producer::open(args.at(0));
  const std::uint64_t start = detail::monotonic_ns();
  std::uint64_t seq = 0, after = 0;
  for (;;) {
    const std::uint64_t before = detail::monotonic_ns();
    const bool last = before - start >= run_ns;
    const stamped s{last ? ~std::uint64_t{0} : seq++, before, after};
    p.send_typed(s);
    after = detail::monotonic_ns();
    if (last) break;
  }
  return 0;
}

TEST_CASE("timestamps: every stamp lies between clock reads around it, and none decreases", "[clock]") {
  INFO("timestamp source: " << detail::to_string(detail::stamp_source()));
  const std::uint64_t start = detail::monotonic_ns();
  std::uint64_t last = 0, n = 0, bad = 0, backwards = 0;
  for (;;) {
    const std::uint64_t a = detail::monotonic_ns();
    const std::uint64_t t = detail::timestamp_ns();
    const std::uint64_t b = detail::monotonic_ns();
    if (t + tolerance_ns < a || t > b + tolerance_ns) ++bad;
    if (t < last) ++backwards;
    last = t;
    ++n;
    if (b - start >= run_ns) break;
  }
  CHECK(n > 100);
  CHECK(bad == 0);
  CHECK(backwards == 0);
}

TEST_CASE("timestamps: a message stamped in another process lies between its clock reads", "[clock]") {
  segment_guard g("clock-stamps");
  auto c = message_consumer::create(g.name(), 1 << 16);
  child_process child("stamping_sender", {g.name()});
  std::uint64_t expect = 0, bad = 0, previous = 0, backwards = 0;
  for (;;) {
    const message m = c.receive();
    REQUIRE(m.payload.size() == sizeof(stamped));
    stamped s{};
    std::memcpy(&s, m.payload.data(), sizeof s);
    if (s.seq != ~std::uint64_t{0}) REQUIRE(s.seq == expect++);
    // The stamp was taken after before_ns and before the receiver saw the message.
    if (m.timestamp_ns + tolerance_ns < s.before_ns || m.timestamp_ns > detail::monotonic_ns() + tolerance_ns) ++bad;
    // The previous message's stamp was taken before its send returned, so before this payload's after_ns.
    if (s.after_ns != 0 && previous > s.after_ns + tolerance_ns) ++bad;
    if (m.timestamp_ns < previous) ++backwards;
    previous = m.timestamp_ns;
    if (s.seq == ~std::uint64_t{0}) break;
  }
  CHECK(child.wait() == 0);
  CHECK(expect > 100);
  CHECK(bad == 0);
  CHECK(backwards == 0);
}
