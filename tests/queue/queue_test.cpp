// Seed 002's queue semantics on top of the ring (include/shmring/queue/, docs/queue.md):
//   - urgent lane: the urgent ring is drained first, each lane is FIFO with every sequence once, a message that
//     arrives on the urgent lane overtakes the normal ones still waiting; across processes a consumer waiting on
//     both rings receives both streams whole and then errc::closed once both producers closed;
//   - time-to-live: expired messages are skipped, released and counted, fresh ones delivered in order; time is
//     controlled by writing records with chosen timestamps (relay_until) and a test clock, never by sleeping;
//     timestamps of 0 (options::timestamps = false) never expire;
//   - acknowledgement: a consumer killed between read and release (handle_next's handler) leaves the message to
//     its successor, which receives it first, then everything after it, each once; a handler that throws leaves
//     the message for the next read.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/queue/ack.hpp>
#include <shmring/queue/ttl.hpp>
#include <shmring/queue/urgent.hpp>
#include <shmring/shmring.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::crc32;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {

/// Message i of a lane: 16 to 600 bytes, the lane and i in its first 16, the rest a function of both.
std::vector<std::byte> payload_of(std::uint64_t lane, std::uint64_t i) {
  const std::size_t n = static_cast<std::size_t>(16 + mix(i * 2 + lane) % 585);
  std::vector<std::byte> p(n);
  std::uint64_t x = mix(i + 1000 * lane);
  for (std::size_t k = 0; k < n; ++k) {
    if (k % 8 == 0) x = mix(x);
    p[k] = static_cast<std::byte>(x >> (8 * (k % 8)));
  }
  std::memcpy(p.data(), &lane, 8);
  std::memcpy(p.data() + 8, &i, 8);
  return p;
}

std::uint64_t word(std::span<const std::byte> p, std::size_t at) {
  std::uint64_t v = ~std::uint64_t{0};
  if (p.size() >= at + 8) std::memcpy(&v, p.data() + at, 8);
  return v;
}

/// Both rings of an urgent pair, removed however the test ends.
struct pair_guard {
  segment_guard g;
  explicit pair_guard(const std::string& what) : g(what) { (void)shmring::remove(queue::urgent_name(g.name())); }
  ~pair_guard() {
    try {
      (void)shmring::remove(queue::urgent_name(g.name()));
    } catch (...) {
    }
  }
  [[nodiscard]] const std::string& name() const noexcept { return g.name(); }
};

/// Checks a received message against its lane's next index, and advances it.
void expect_next(const message& m, queue::lane got_lane, std::uint64_t (&next)[2]) {
  const std::uint64_t lane = word(m.payload, 0), i = word(m.payload, 8);
  REQUIRE(lane < 2);
  CHECK(lane == (got_lane == queue::lane::urgent ? 1u : 0u));
  CHECK(has(m.flags, message_flags::urgent) == (lane == 1));
  REQUIRE(i == next[lane]);
  CHECK(m.sequence == i);  // each lane is its own ring: its sequence numbers are the lane's
  CHECK(crc32(m.payload) == crc32(payload_of(lane, i)));
  ++next[lane];
}

message_flags flags_of(std::uint64_t lane) { return lane == 1 ? message_flags::urgent : message_flags::none; }

}  // namespace

TEST_CASE("the urgent lane is drained first; each lane is FIFO", "[queue][urgent]") {
  pair_guard g("urgent-order");
  auto c = queue::urgent_consumer::create(g.name(), 1 << 14);
  auto p = queue::urgent_producer::open(g.name());
  std::uint64_t sent[2] = {0, 0}, next[2] = {0, 0};
  auto send = [&](std::uint64_t lane) {
    REQUIRE(p.try_send(payload_of(lane, sent[lane]), message_type::data, flags_of(lane)));
    ++sent[lane];
  };
  for (int k = 0; k < 5; ++k) send(0);
  for (int k = 0; k < 3; ++k) send(1);
  // Sent after the normal ones, received before them.
  for (int k = 0; k < 3; ++k) {
    const auto m = c.try_receive();
    REQUIRE(m);
    CHECK(c.last_lane() == queue::lane::urgent);
    expect_next(*m, c.last_lane(), next);
  }
  const auto m0 = c.try_receive();
  REQUIRE(m0);
  expect_next(*m0, c.last_lane(), next);
  CHECK(next[0] == 1);
  // An urgent message that arrives now overtakes the four normal ones still waiting.
  send(1);
  const auto mu = c.try_receive();
  REQUIRE(mu);
  CHECK(c.last_lane() == queue::lane::urgent);
  expect_next(*mu, c.last_lane(), next);
  while (const auto m = c.try_receive()) expect_next(*m, c.last_lane(), next);
  CHECK(next[0] == 5);
  CHECK(next[1] == 4);
  CHECK(!c.try_receive());
  CHECK(!c.receive_for(std::chrono::milliseconds(0)));  // nothing, and both producers still attached: no end
  p.close();
  CHECK(code_of([&] { (void)c.receive_for(std::chrono::seconds(60)); }) == errc::closed);
}

// args: name count. Sends count messages on pseudo-randomly chosen lanes (send: waits for room), then closes both.
SHMRING_CHILD(urgent_producer_child) {
  auto p = queue::urgent_producer::open(args.at(0));
  const std::uint64_t n = std::stoull(args.at(1));
  std::uint64_t sent[2] = {0, 0};
  for (std::uint64_t k = 0; k < n; ++k) {
    const std::uint64_t lane = mix(k) % 4 == 0 ? 1 : 0;
    p.send(payload_of(lane, sent[lane]), message_type::data, flags_of(lane));
    ++sent[lane];
  }
  std::printf("%llu %llu\n", static_cast<unsigned long long>(sent[0]), static_cast<unsigned long long>(sent[1]));
  std::fflush(stdout);
  p.close();
  return 0;
}

TEST_CASE("an urgent consumer waits on both rings of a producer process until both close", "[queue][urgent][ipc]") {
  pair_guard g("urgent-ipc");
  auto c = queue::urgent_consumer::create(g.name(), 1 << 13, 1 << 12);
  const std::uint64_t n = shmring_test::scaled(20000, 4000);
  child_process prod("urgent_producer_child", {g.name(), std::to_string(n)}, true);
  std::uint64_t next[2] = {0, 0};
  try {
    for (;;) {
      const auto m = c.receive_for(std::chrono::seconds(60));
      REQUIRE(m);  // a timeout is a hang
      expect_next(*m, c.last_lane(), next);
    }
  } catch (const error& e) {
    CHECK(e.code() == errc::closed);
  }
  const std::string counts = prod.read_output();
  CHECK(prod.wait() == 0);
  CHECK(counts == std::to_string(next[0]) + " " + std::to_string(next[1]) + "\n");
  CHECK(next[0] + next[1] == n);
  CHECK(next[1] > 0);
  CHECK(c.of(queue::lane::normal).dropped() == 0);
  CHECK(c.of(queue::lane::urgent).dropped() == 0);
}

// args: name. Sends 3 messages on each lane, says "sent" and waits to be killed.
SHMRING_CHILD(urgent_dying_producer) {
  auto p = queue::urgent_producer::open(args.at(0));
  for (std::uint64_t i = 0; i < 3; ++i)
    for (std::uint64_t lane = 0; lane < 2; ++lane) p.send(payload_of(lane, i), message_type::data, flags_of(lane));
  std::printf("sent\n");
  std::fflush(stdout);
  for (;;) ::pause();
}

TEST_CASE("an urgent consumer drains both rings of a producer that died, then says peer_dead", "[queue][urgent][ipc]") {
  pair_guard g("urgent-dead");
  auto c = queue::urgent_consumer::create(g.name(), 1 << 12);
  child_process prod("urgent_dying_producer", {g.name()}, true);
  REQUIRE(shmring_test::read_line(prod.output_fd()) == "sent");
  prod.kill_now();
  std::uint64_t next[2] = {0, 0};
  for (int k = 0; k < 6; ++k) {
    const auto m = c.receive_for(std::chrono::seconds(60));
    REQUIRE(m);
    CHECK(c.last_lane() == (k < 3 ? queue::lane::urgent : queue::lane::normal));  // all were there: urgent first
    expect_next(*m, c.last_lane(), next);
  }
  CHECK(code_of([&] { (void)c.receive_for(std::chrono::seconds(60)); }) == errc::peer_dead);
}

namespace {
/// Sends payload with a chosen timestamp (a relayed message carries the timestamp it is given).
void send_stamped(message_producer& p, std::span<const std::byte> payload, std::uint64_t timestamp_ns) {
  message_producer::relay_message o;
  o.size = payload.size();
  o.type = static_cast<std::uint32_t>(message_type::data);
  o.timestamp_ns = timestamp_ns;
  REQUIRE(p.relay_until(o, payload, std::chrono::steady_clock::time_point::max(), [](std::uint64_t) noexcept {}));
}
}  // namespace

TEST_CASE("time-to-live: expired messages are skipped, released and counted", "[queue][ttl]") {
  segment_guard g("ttl");
  options keep;
  keep.persistent = true;
  auto c = message_consumer::create(g.name(), 1 << 14, keep);
  auto p = message_producer::open(g.name());
  using namespace std::chrono_literals;
  const std::uint64_t now = 1'000'000'000'000;  // the test clock: what "now" is, whatever the machine says
  queue::ttl_consumer t(c, 5ms, [&] { return now; });
  // Message i: its timestamp, and whether it is still fresh at `now` under 5 ms.
  struct stamp {
    std::uint64_t ts;
    bool fresh;
  };
  const std::vector<stamp> stamps = {
      {now - 10'000'000, false},  // 10 ms old
      {now - 5'000'000, true},    // exactly the ttl: not older than it
      {now - 5'000'001, false},   // 1 ns over
      {now - 1'000, true},
      {0, true},                  // no timestamp (options::timestamps = false): never expires
      {now + 3'000'000, true},    // from the future: not expired
      {1, false},                 // very old
      {now, true},
  };
  for (std::uint64_t i = 0; i < stamps.size(); ++i) send_stamped(p, payload_of(0, i), stamps[i].ts);
  std::vector<std::uint64_t> got;
  while (const auto m = t.try_receive()) {
    CHECK(crc32(m->payload) == crc32(payload_of(0, m->sequence)));
    CHECK(m->timestamp_ns == stamps.at(m->sequence).ts);
    got.push_back(m->sequence);
  }
  CHECK(got == std::vector<std::uint64_t>{1, 3, 4, 5, 7});
  CHECK(t.expired() == 3);
  CHECK(c.received() == stamps.size());  // every message left the ring: expired ones were released
  CHECK(!c.try_receive());
  // The waiting form skips too, and returns nothing on a timeout once only expired ones were there.
  send_stamped(p, payload_of(0, 8), now - 6'000'000);
  CHECK(!t.receive_for(0ms));
  CHECK(t.expired() == 4);
  send_stamped(p, payload_of(0, 9), now - 6'000'000);
  send_stamped(p, payload_of(0, 10), now - 4'000'000);
  const auto m = t.receive_for(60s);
  REQUIRE(m);
  CHECK(m->sequence == 10);
  CHECK(t.expired() == 5);
  CHECK(queue::expired_at(1, now, -1ns));   // a negative ttl expires every stamped message
  CHECK(!queue::expired_at(0, now, -1ns));  // but never an unstamped one
}

TEST_CASE("time-to-live: a producer without timestamps sends messages that never expire", "[queue][ttl]") {
  segment_guard g("ttl-nostamp");
  options keep;
  keep.persistent = true;
  keep.timestamps = false;
  auto c = message_consumer::create(g.name(), 1 << 12, keep);
  auto p = message_producer::open(g.name(), keep);
  for (std::uint64_t i = 0; i < 5; ++i) p.send(payload_of(0, i));
  queue::ttl_consumer t(c, std::chrono::nanoseconds(0), [] { return ~std::uint64_t{0}; });  // the end of time
  for (std::uint64_t i = 0; i < 5; ++i) {
    const auto m = t.try_receive();
    REQUIRE(m);
    CHECK(m->sequence == i);
    CHECK(m->timestamp_ns == 0);
  }
  CHECK(t.expired() == 0);
}

namespace {
constexpr std::uint64_t ack_total = 300;
}

// args: name special. Handles messages with handle_next; on `special` it prints "held <i>" from inside the
// handler and waits to be killed: read, never released. Exit 3 on a bad message.
SHMRING_CHILD(ack_consumer_child) {
  auto c = message_consumer::open(args.at(0));
  const std::uint64_t special = std::stoull(args.at(1));
  for (std::uint64_t expect = 0;; ++expect) {
    bool bad = false;
    (void)queue::handle_next(c, std::chrono::seconds(60), [&](const message_view& v) {
      const std::uint64_t i = word(v.payload, 8);
      if (i != expect || crc32(v.payload) != crc32(payload_of(0, i))) bad = true;
      if (i == special) {
        std::printf("held %llu\n", static_cast<unsigned long long>(i));
        std::fflush(stdout);
        for (;;) ::pause();
      }
    });
    if (bad) return 3;
  }
}

TEST_CASE("acknowledgement: a consumer killed between read and release leaves the message to its successor",
          "[queue][ack][ipc]") {
  const int rounds = static_cast<int>(shmring_test::scaled(5, 2));
  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round);
    segment_guard g("ack");
    options keep;
    keep.persistent = true;
    auto p = message_producer::create(g.name(), 1 << 18, keep);  // holds all ack_total: send never waits
    const std::uint64_t special = 20 + static_cast<std::uint64_t>(round) * 37;
    for (std::uint64_t i = 0; i < ack_total; ++i) {
      if (i == special + 1) {
        // Start the consumer once `special` and everything before it is in the ring; kill it while it holds it.
        child_process holder("ack_consumer_child", {g.name(), std::to_string(special)}, true);
        REQUIRE(shmring_test::read_line(holder.output_fd()) == "held " + std::to_string(special));
        holder.kill_now();
      }
      p.send(payload_of(0, i));
    }
    auto c = message_consumer::open(g.name());
    std::uint64_t next = special;  // received again first: the tail moved only at release
    while (next < ack_total) {
      REQUIRE(queue::handle_next(c, std::chrono::seconds(60), [&](const message_view& v) {
        REQUIRE(word(v.payload, 8) == next);
        REQUIRE(crc32(v.payload) == crc32(payload_of(0, next)));
      }));
      ++next;
    }
    CHECK(c.dropped() == 0);
    CHECK(!c.try_receive());
  }
}

TEST_CASE("acknowledgement: a handler that throws leaves the message for the next read", "[queue][ack]") {
  segment_guard g("ack-throw");
  options keep;
  keep.persistent = true;
  auto c = message_consumer::create(g.name(), 1 << 12, keep);
  auto p = message_producer::open(g.name());
  for (std::uint64_t i = 0; i < 3; ++i) p.send(payload_of(0, i));
  CHECK_THROWS_AS(queue::handle_next(c, std::chrono::seconds(0),
                                     [](const message_view&) { throw std::runtime_error("not now"); }),
                  std::runtime_error);
  for (std::uint64_t i = 0; i < 3; ++i)
    CHECK(queue::handle_next(c, std::chrono::seconds(0), [&](const message_view& v) { CHECK(word(v.payload, 8) == i); }));
  CHECK(!queue::handle_next(c, std::chrono::seconds(0), [](const message_view&) { FAIL("no message is left"); }));
}
