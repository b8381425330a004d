// message_replay (include/shmring/message/replay.hpp) against real message rings: replay from the tail, from a
// named index and from the oldest record still intact (after the consumer consumed some and the producer wrapped),
// fragmented messages reassembled, a named index that is no boundary or too old refused; a replay changes no byte
// of the segment (the consumer's tail and both sides' counters included); hostile bytes in the data area give
// errors, never a crash; and with a producer process overwriting concurrently, every message delivered is intact
// (sequence consecutive, payload checksum equal to the sender's) or the replay reports an overrun.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/message/replay.hpp>
#include <shmring/shmring.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::crc32;
using shmring_test::mix;
using shmring_test::raw_segment;
using shmring_test::segment_guard;

namespace {

/// Message s: 8 to max bytes, its first 8 bytes s, the rest a function of s.
std::vector<std::byte> payload_of(std::uint64_t s, std::uint64_t max) {
  const std::size_t n = static_cast<std::size_t>(8 + mix(s) % (max - 7));
  std::vector<std::byte> p(n);
  std::uint64_t x = mix(s + 99);
  for (std::size_t k = 0; k < n; ++k) {
    if (k % 8 == 0) x = mix(x);
    p[k] = static_cast<std::byte>(x >> (8 * (k % 8)));
  }
  std::memcpy(p.data(), &s, 8);
  return p;
}

bool intact(const replay_message& m, std::uint64_t max) {
  const auto want = payload_of(m.info.sequence, max);
  return m.payload.size() == want.size() && m.info.length == want.size() && crc32(m.payload) == crc32(want);
}

/// The whole segment's bytes, to compare before and after a replay.
std::vector<std::byte> bytes_of(const std::string& name) {
  shmring_test::raw_map m(name);
  return std::vector<std::byte>(m.data(), m.data() + m.size());
}

options persistent() {
  options o;
  o.persistent = true;
  return o;
}

/// A message ring with both sides in this process (persistent: removed by the guard, pass or fail).
struct ring_fixture {
  segment_guard g;
  message_consumer c;
  message_producer p;
  ring_fixture(const char* what, std::uint64_t cap)
      : g(what), c(message_consumer::create(g.name(), cap, persistent())), p(message_producer::open(g.name())) {}
};

/// Replays from the reader's position to the end, requiring consecutive sequences from `first` and intact
/// payloads; returns the sequences read.
std::vector<std::uint64_t> replay_all(message_replay& r, std::uint64_t max) {
  std::vector<std::uint64_t> seqs;
  replay_message m;
  message_replay::status s;
  while ((s = r.next(m)) == message_replay::status::ready) {
    CHECK(intact(m, max));
    if (!seqs.empty()) CHECK(m.info.sequence == seqs.back() + 1);
    seqs.push_back(m.info.sequence);
  }
  CHECK(s == message_replay::status::end);
  return seqs;
}

}  // namespace

TEST_CASE("replay from the tail delivers what the consumer will receive, and changes nothing", "[replay]") {
  constexpr std::uint64_t cap = 1 << 14, max = 700;
  ring_fixture f("replay-tail", cap);
  auto& [g, c, p] = f;
  for (std::uint64_t s = 0; s < 12; ++s) p.send(payload_of(s, max));
  for (std::uint64_t s = 0; s < 5; ++s) REQUIRE(c.try_receive()->sequence == s);

  const auto before = bytes_of(g.name());
  auto r = message_replay::open(g.name());
  CHECK(r.position() == r.tail());
  const auto seqs = replay_all(r, max);
  REQUIRE(seqs.size() == 7);
  CHECK(seqs.front() == 5);
  CHECK(seqs.back() == 11);
  r.seek_tail();
  CHECK(replay_all(r, max).size() == 7);
  CHECK(bytes_of(g.name()) == before);  // tail, counters, attach slots, data: not one byte changed

  // The consumer goes on as if nothing happened.
  for (std::uint64_t s = 5; s < 12; ++s) {
    const auto m = c.try_receive();
    REQUIRE(m);
    CHECK(m->sequence == s);
    CHECK(crc32(m->payload) == crc32(payload_of(s, max)));
  }
  CHECK(c.dropped() == 0);
  // Reading forward up to the head as it is at each call: a message sent later is read by the next call.
  p.send(payload_of(12, max));
  replay_message m;
  REQUIRE(r.next(m) == message_replay::status::ready);
  CHECK(m.info.sequence == 12);
  CHECK(r.next(m) == message_replay::status::end);
}

TEST_CASE("replay from a named index, and indices that are no record boundary", "[replay]") {
  constexpr std::uint64_t cap = 1 << 14, max = 500;
  ring_fixture f("replay-index", cap);
  auto& [g, c, p] = f;
  for (std::uint64_t s = 0; s < 10; ++s) p.send(payload_of(s, max));
  for (std::uint64_t s = 0; s < 4; ++s) REQUIRE(c.try_receive());

  auto r = message_replay::open(g.name());
  r.seek(r.initial_index());  // consumed, still intact: the ring never wrapped
  std::vector<replay_message> all;
  replay_message m;
  while (r.next(m) == message_replay::status::ready) all.push_back(m);
  REQUIRE(all.size() == 10);
  for (std::uint64_t s = 0; s < 10; ++s) {
    CHECK(all[s].info.sequence == s);
    CHECK(intact(all[s], max));
    if (s > 0) CHECK(all[s].index == all[s - 1].next);
  }
  // Every message's index is a boundary, before the tail (consumed) and after it.
  for (const std::uint64_t s : {1ull, 3ull, 4ull, 7ull, 9ull}) {
    r.seek(all[s].index);
    const auto seqs = replay_all(r, max);
    REQUIRE(!seqs.empty());
    CHECK(seqs.front() == s);
    CHECK(seqs.back() == 9);
  }
  r.seek(all[9].next);  // the head itself: nothing to read yet
  CHECK(r.next(m) == message_replay::status::end);
  // Inside a record, unaligned, ahead of the head: refused with a message.
  CHECK(code_of([&] { r.seek(all[2].index + 8); }) == errc::invalid_argument);
  CHECK(code_of([&] { r.seek(all[6].index + 16); }) == errc::invalid_argument);
  CHECK(code_of([&] { r.seek(all[6].index + 3); }) == errc::invalid_argument);
  CHECK(code_of([&] { r.seek(all[9].next + 8); }) == errc::invalid_argument);
  try {
    r.seek(all[6].index + 8);
    FAIL("no error");
  } catch (const error& e) {
    CHECK(std::string(e.what()).find("not a record boundary") != std::string::npos);
  }
}

TEST_CASE("replay from the oldest record still intact after the producer wrapped", "[replay]") {
  constexpr std::uint64_t cap = 1 << 12, max = 300;
  ring_fixture f("replay-oldest", cap);
  auto& [g, c, p] = f;
  auto r = message_replay::open(g.name());
  // Nothing overwritten yet: the oldest is the ring's first record.
  p.send(payload_of(0, max));
  REQUIRE(c.try_receive());
  CHECK(r.seek_oldest() == r.initial_index());
  CHECK(replay_all(r, max) == std::vector<std::uint64_t>{0});

  std::uint64_t sent = 1, received = 1;
  const int rounds = static_cast<int>(shmring_test::scaled(200, 50));
  for (int round = 0; round < rounds; ++round) {
    const std::uint64_t burst = 1 + mix(static_cast<std::uint64_t>(round)) % 12;
    for (std::uint64_t k = 0; k < burst; ++k)
      if (p.try_send(payload_of(sent, max))) ++sent;
    const std::uint64_t take = mix(static_cast<std::uint64_t>(round) + 1000) % (sent - received + 1);
    for (std::uint64_t k = 0; k < take; ++k) REQUIRE(c.try_receive()->sequence == received++);
    INFO("round " << round << ", sent " << sent << ", received " << received);
    const std::uint64_t from = r.seek_oldest();
    const std::uint64_t head = r.head(), tail = r.tail();
    CHECK(from - (head - cap) < cap);  // within the last capacity bytes
    CHECK(tail - from <= cap);
    const auto seqs = replay_all(r, max);
    // It reaches the newest message and covers everything not yet received (consumed ones as far as intact(p)).
    REQUIRE(!seqs.empty());
    CHECK(seqs.back() == sent - 1);
    CHECK(seqs.front() <= received);
  }
  CHECK(c.dropped() == 0);
}

TEST_CASE("replay reports an overrun when the producer writes over what it reads", "[replay]") {
  constexpr std::uint64_t cap = 1 << 12, max = 100;
  ring_fixture f("replay-overrun", cap);
  auto& [g, c, p] = f;
  auto r = message_replay::open(g.name());
  std::uint64_t sent = 0;
  for (; sent < 20; ++sent) p.send(payload_of(sent, max));
  while (c.try_receive()) {
  }
  REQUIRE(r.seek_oldest() == r.initial_index());  // nothing overwritten yet: from message 0
  replay_message m;
  REQUIRE(r.next(m) == message_replay::status::ready);
  CHECK(m.info.sequence == 0);
  const std::uint64_t at = r.position();
  SECTION("the producer's reach passes the position") {
    // While head + window - capacity <= `at`, the record there is out of reach; once it passes, overrun.
    while (r.head() + cap / 2 <= at + cap) {
      p.send(payload_of(sent++, max));
      REQUIRE(c.try_receive());
    }
    CHECK(r.next(m) == message_replay::status::overrun);
    CHECK(r.overrun_index() == at);
    CHECK(r.next(m) == message_replay::status::overrun);  // lost until the next seek
    r.seek_oldest();
    const auto seqs = replay_all(r, max);
    REQUIRE(!seqs.empty());
    CHECK(seqs.back() == sent - 1);
    CHECK(seqs.front() > 1);
  }
  SECTION("the producer laps the reader") {
    while (r.head() - at <= cap) {
      p.send(payload_of(sent++, max));
      REQUIRE(c.try_receive());
    }
    CHECK(r.next(m) == message_replay::status::overrun);
  }
  SECTION("a named index the producer has passed is refused") {
    while (r.head() + cap / 2 <= at + cap) {
      p.send(payload_of(sent++, max));
      REQUIRE(c.try_receive());
    }
    try {
      r.seek(at);
      FAIL("no error");
    } catch (const error& e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK(std::string(e.what()).find("older than what the ring still holds") != std::string::npos);
    }
  }
}

TEST_CASE("replay reassembles fragmented messages", "[replay]") {
  constexpr std::uint64_t cap = 1 << 12;  // records carry at most 2016 bytes
  ring_fixture f("replay-fragments", cap);
  auto& [g, c, p] = f;
  replay_options whole_ring;
  whole_ring.write_window = cap;  // messages larger than a record: only unconsumed records are trusted
  auto r = message_replay::open(g.name(), whole_ring);
  for (std::uint64_t s = 0; s < 20; ++s) {
    const auto want = payload_of(s, 3000);
    p.send(want);
    replay_message m;
    REQUIRE(r.next(m) == message_replay::status::ready);
    CHECK(m.info.sequence == s);
    CHECK((want.size() > record::max_payload(cap) ? m.records >= 2 : m.records == 1));
    CHECK(crc32(m.payload) == crc32(want));
    REQUIRE(c.try_receive());
    CHECK(r.next(m) == message_replay::status::end);
  }
  // With write_window = capacity, consumed records are never trusted: the oldest is the tail.
  CHECK(r.seek_oldest() == r.tail());
}

TEST_CASE("replay of hostile bytes gives errors, never a crash", "[replay][corruption]") {
  constexpr std::uint64_t cap = 1 << 12, max = 200;
  ring_fixture f("replay-hostile", cap);
  auto& [g, c, p] = f;
  for (std::uint64_t s = 0; s < 10; ++s) p.send(payload_of(s, max));
  raw_segment raw(g.name());
  auto r = message_replay::open(g.name());
  std::vector<replay_message> all;
  replay_message m;
  while (r.next(m) == message_replay::status::ready) all.push_back(m);
  REQUIRE(all.size() == 10);

  SECTION("a record length past the head") {
    const std::uint32_t huge = 1u << 20;
    std::memcpy(raw.data() + (all[3].index & (cap - 1)), &huge, 4);
    r.seek_tail();
    std::uint64_t got = 0;
    message_replay::status s;
    while ((s = r.next(m)) == message_replay::status::ready) ++got;
    CHECK(got == 3);
    CHECK(s == message_replay::status::corrupted);
    CHECK(r.why() != nullptr);
    CHECK(code_of([&] { r.seek(all[5].index); }) == errc::invalid_argument);  // the chain from the tail breaks
  }
  SECTION("a sequence number out of order") {
    const std::uint64_t bad = 77;
    std::memcpy(raw.data() + (all[6].index & (cap - 1)) + 16, &bad, 8);
    r.seek_tail();
    std::uint64_t got = 0;
    while (r.next(m) == message_replay::status::ready) ++got;
    CHECK(got == 6);
    CHECK(r.next(m) == message_replay::status::corrupted);
  }
  SECTION("random bytes everywhere, random indices") {
    std::uint64_t x = 12345;
    const int rounds = static_cast<int>(shmring_test::scaled(300, 60));
    for (int round = 0; round < rounds; ++round) {
      for (std::uint64_t k = 0; k < cap; k += 8) {
        x = mix(x);
        // Mostly plausible headers: small lengths, kind 1 or 2, a few flags.
        const std::uint64_t v = round % 3 == 0 ? x : (x & 0x3f1f02000000ffffull);
        std::memcpy(raw.data() + k, &v, 8);
      }
      const std::uint64_t base = raw.header().control.initial_index;
      const std::uint64_t t = base + (mix(x + 1) % (4 * cap)) / 8 * 8;
      const std::uint64_t h = t + (mix(x + 2) % (cap + 64)) / 8 * 8;
      raw.header().tail.value.store(t);
      raw.header().head.value.store(h);
      (void)r.seek_oldest();
      for (int k = 0; k < 64 && r.next(m) == message_replay::status::ready; ++k) {
      }
      (void)code_of([&] { r.seek(t + 8 * (mix(x + 3) % 64)); });
      (void)code_of([&] { r.seek(t - 8 * (mix(x + 4) % 64)); });
    }
    SUCCEED("no crash, no hang");
  }
}

TEST_CASE("replay of a typed ring or a missing name is refused", "[replay]") {
  segment_guard g("replay-typed");
  auto p = producer<std::uint64_t>::create(g.name(), 16);
  CHECK(code_of([&] { (void)message_replay::open(g.name()); }) == errc::kind_mismatch);
  CHECK(code_of([&] { (void)message_replay::open(g.name() + "-none"); }) == errc::not_found);
}

namespace {
constexpr std::uint64_t race_cap = 1 << 12, race_max = 400;
}

// args: name count. Sends messages 0..count-1 (send: waits for room), then closes.
SHMRING_CHILD(replay_race_producer) {
  auto p = message_producer::open(args.at(0));
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t s = 0; s < n; ++s) p.send(payload_of(s, race_max));
  p.close();
  return 0;
}

TEST_CASE("replay while the producer overwrites: intact messages or an overrun, never torn bytes", "[replay][ipc]") {
  segment_guard g("replay-race");
  auto c = message_consumer::create(g.name(), race_cap, persistent());
  const std::uint64_t n = shmring_test::scaled(40000, 8000);
  child_process prod("replay_race_producer", {g.name(), std::to_string(n)});
  auto r = message_replay::open(g.name());
  std::uint64_t received = 0, delivered = 0, overruns = 0, seeks = 0;
  while (received < n) {
    // The consumer takes a few, then the replay reads from the oldest as far as it gets.
    for (int k = 0; k < 7 && received < n; ++k) {
      const auto m = c.receive_for(std::chrono::seconds(60));
      REQUIRE(m);
      REQUIRE(m->sequence == received);
      REQUIRE(crc32(m->payload) == crc32(payload_of(received, race_max)));
      ++received;
    }
    (void)r.seek_oldest();
    ++seeks;
    replay_message m;
    std::uint64_t last = ~std::uint64_t{0};
    for (int k = 0; k < 40; ++k) {
      const auto s = r.next(m);
      if (s == message_replay::status::overrun) {
        ++overruns;
        break;
      }
      REQUIRE(s != message_replay::status::corrupted);
      if (s == message_replay::status::end) break;
      REQUIRE(intact(m, race_max));
      if (last != ~std::uint64_t{0}) REQUIRE(m.info.sequence == last + 1);
      last = m.info.sequence;
      ++delivered;
    }
  }
  CHECK(prod.wait() == 0);
  CHECK(c.dropped() == 0);
  CHECK(delivered > 0);
  std::printf("replay race: %llu messages, %llu seeks, %llu replayed intact, %llu overruns\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(seeks),
              static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(overruns));
}
