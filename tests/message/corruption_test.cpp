// Corruption written straight into a message segment (bad lengths, bad padding, bad indices, broken framing):
// the consumer reports errc::corrupted, never reads out of bounds (ASan), never crashes, never hangs, and stops
// reading the ring. Then thousands of random byte flips on heap rings through the same reader.
#include <catch2/catch.hpp>

#include <shmring/shmring.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "message_stream.hpp"
#include "segment_guard.hpp"

#include <cstring>
#include <functional>
#include <string>
#include <vector>

using shmring::errc;
using shmring::message_consumer;
using shmring::message_producer;
using shmring_test::code_of;
using shmring_test::segment_guard;
namespace record = shmring::record;

namespace {

constexpr std::uint64_t cap = 1024;  // records of at most 480 payload bytes

constexpr std::uint8_t whole = record::flag_first_fragment | record::flag_last_fragment;

record::header data(std::uint32_t len, std::uint64_t seq, std::uint8_t flags = whole, std::uint32_t msg_len = ~0u) {
  return {len, record::kind_data, flags, 0, 1, msg_len == ~0u ? len : msg_len, seq, 123};
}

/// A consumer over a new ring starting at byte index `first`, with raw access to write records and indices.
struct fixture {
  segment_guard g{"msg-corrupt"};
  std::uint64_t first;
  message_consumer c;
  msgtest::raw_segment raw;
  std::uint64_t head;

  explicit fixture(std::uint64_t first_index = 0)
      : first(first_index), c(message_consumer::create(g.name(), cap, opts(first_index))), raw(g.name()), head(first_index) {}

  static shmring::options opts(std::uint64_t first) {
    shmring::options o;
    o.first_index = first;
    return o;
  }

  /// Writes a record (header + payload bytes) at the current head, and moves the head past it if publish.
  void put(const record::header& h, std::uint64_t size_override = 0) {
    const std::uint64_t off = head & (cap - 1);
    const std::uint64_t size = size_override != 0 ? size_override : record::size_of(h.length);
    std::memcpy(raw.data() + off, &h, off + record::header_size <= cap ? record::header_size : cap - off);
    head += size;
  }
  void pad(std::uint32_t length, std::uint64_t advance = 0) {
    const record::header p{length, record::kind_padding, 0, 0, 0, 0, 0, 0};
    std::memcpy(raw.data() + (head & (cap - 1)), &p, record::prefix_size);
    head += advance != 0 ? advance : length;
  }
  void publish() { set_head(head); }
  void set_head(std::uint64_t h) { raw.header().head.value.store(h, std::memory_order_release); }

  /// Everything a consumer offers reports the corruption, and keeps reporting it.
  void expect_corrupted() {
    CHECK_FALSE(c.try_receive().has_value());
    REQUIRE(c.corrupted());
    INFO(c.corruption());
    CHECK_FALSE(c.corruption().empty());
    CHECK(code_of([&] { (void)c.receive(); }) == errc::corrupted);
    CHECK(code_of([&] { (void)c.read(); }) == errc::corrupted);
    CHECK(code_of([&] { (void)c.receive_for(std::chrono::hours(1)); }) == errc::corrupted);
    CHECK_FALSE(c.try_read().has_value());
    CHECK_FALSE(c.try_receive().has_value());
    CHECK(c.status().consumer.corrupted);
  }
};

}  // namespace

TEST_CASE("bad lengths are corruption", "[message][corruption]") {
  SECTION("longer than the largest record") {
    fixture f;
    f.put(data(481, 0), 512);
    f.publish();
    f.expect_corrupted();
  }
  SECTION("running past the producer's index") {
    fixture f;
    f.put(data(100, 0));
    f.set_head(f.head - 64);
    f.expect_corrupted();
  }
  SECTION("running past the end of the data area") {
    fixture f(cap - 64);
    f.put(data(100, 0), 64);
    f.put(data(0, 1));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a header crossing the end of the data area") {
    fixture f(cap - 8);
    f.put(data(0, 0), 8);
    f.put(data(0, 1));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a message length over 1 GiB") {
    fixture f;
    f.put(data(16, 0, record::flag_first_fragment, (1u << 30) + 1));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a whole-message record whose length is not its message's") {
    fixture f;
    f.put(data(16, 0, whole, 17));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a record longer than its message") {
    fixture f;
    f.put(data(16, 0, record::flag_first_fragment, 8));
    f.publish();
    f.expect_corrupted();
  }
}

TEST_CASE("bad padding is corruption", "[message][corruption]") {
  SECTION("padding at the start of the data area") {
    fixture f;
    f.pad(cap);
    f.put(data(0, 0));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("padding that stops short of the end") {
    fixture f(512);
    f.pad(256);
    f.put(data(0, 0));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("padding that claims more than the end") {
    fixture f(512);
    f.pad(520, 512);
    f.put(data(0, 0));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("padding not followed by a record") {
    fixture f(512);
    f.pad(512);
    f.publish();
    f.expect_corrupted();
  }
  SECTION("padding running past the producer's index") {
    fixture f(512);
    f.pad(512);
    f.set_head(512 + 256);
    f.expect_corrupted();
  }
  SECTION("padding with flags set") {
    fixture f(512);
    const record::header p{512, record::kind_padding, record::flag_urgent, 0, 0, 0, 0, 0};
    std::memcpy(f.raw.data() + 512, &p, 8);
    f.head += 512;
    f.put(data(0, 0));
    f.publish();
    f.expect_corrupted();
  }
}

TEST_CASE("bad indices are corruption", "[message][corruption]") {
  SECTION("the producer's index behind the consumer's") {
    fixture f;
    f.put(data(8, 0));
    f.publish();
    REQUIRE(f.c.try_receive().has_value());
    f.set_head(0);
    f.expect_corrupted();
  }
  SECTION("the producer's index more than the capacity ahead") {
    fixture f;
    f.set_head(cap + 8);
    f.expect_corrupted();
  }
  SECTION("the producer's index not a multiple of 8") {
    fixture f;
    f.put(data(0, 0));
    f.set_head(f.head + 4);
    f.expect_corrupted();
  }
  SECTION("opening a ring whose consumer index is ahead of its producer's") {
    segment_guard g("msg-corrupt-open");
    auto p = message_producer::create(g.name(), cap);
    msgtest::raw_segment raw(g.name());
    raw.header().tail.value.store(64);
    REQUIRE(code_of([&] { (void)message_consumer::open(g.name()); }) == errc::corrupted);
  }
  SECTION("opening a ring whose indices are not multiples of 8") {
    segment_guard g("msg-corrupt-align");
    auto p = message_producer::create(g.name(), cap);
    msgtest::raw_segment raw(g.name());
    raw.header().head.value.store(12);
    raw.header().tail.value.store(4);
    REQUIRE(code_of([&] { (void)message_consumer::open(g.name()); }) == errc::corrupted);
  }
  SECTION("the producer finds the consumer's index out of range") {
    segment_guard g("msg-corrupt-tail");
    auto p = message_producer::create(g.name(), cap);
    msgtest::raw_segment raw(g.name());
    std::vector<std::byte> m(400);
    REQUIRE(p.try_send(m));
    REQUIRE(p.try_send(m));
    raw.header().tail.value.store(4096);  // ahead of head
    CHECK_FALSE(p.try_send(m));           // needs to look at the tail: finds it impossible
    REQUIRE(p.corrupted());
    CHECK(code_of([&] { p.send(m); }) == errc::corrupted);
    CHECK(code_of([&] { (void)p.reserve(8); }) == errc::corrupted);
    CHECK(p.status().producer.corrupted);
  }
}

TEST_CASE("broken framing, flags and sequences are corruption", "[message][corruption]") {
  SECTION("an unknown record kind") {
    for (const std::uint8_t kind : {std::uint8_t{0}, std::uint8_t{3}, std::uint8_t{0xFF}}) {
      fixture f;
      auto h = data(0, 0);
      h.kind = kind;
      f.put(h);
      f.publish();
      f.expect_corrupted();
    }
  }
  SECTION("unknown flag bits") {  // (+6 is a data record's type tag: any value is valid there)
    for (int which = 0; which < 2; ++which) {
      fixture f;
      auto h = data(0, 0);
      if (which == 0) h.flags |= 0x40;
      if (which == 1) h.flags |= 0x80;
      f.put(h);
      f.publish();
      f.expect_corrupted();
    }
  }
  SECTION("a sequence gap") {
    fixture f;
    f.put(data(0, 0));
    f.put(data(0, 2));
    f.publish();
    REQUIRE(f.c.try_receive()->sequence == 0);
    f.expect_corrupted();
  }
  SECTION("a repeated sequence") {
    fixture f;
    f.put(data(0, 0));
    f.put(data(0, 0));
    f.publish();
    REQUIRE(f.c.try_receive().has_value());
    f.expect_corrupted();
  }
  SECTION("a fresh ring whose first message is not sequence 0") {
    fixture f;
    f.put(data(0, 5));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a fragment without the start of its message") {
    fixture f;
    f.put(data(8, 0, record::flag_last_fragment, 16));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a message that starts inside a fragmented one") {
    fixture f;
    f.put(data(8, 0, record::flag_first_fragment, 16));
    f.put(data(8, 1));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a fragment of another message") {
    for (int which = 0; which < 4; ++which) {
      fixture f;
      f.put(data(8, 0, record::flag_first_fragment, 16));
      auto h = data(8, 0, record::flag_last_fragment, 16);
      if (which == 0) h.sequence = 1;
      if (which == 1) h.type = 2;
      if (which == 2) h.timestamp_ns = 124;
      if (which == 3) h.flags |= record::flag_urgent;
      f.put(h);
      f.publish();
      f.expect_corrupted();
    }
  }
  SECTION("fragments longer than their message, or a last flag that does not match") {
    for (int which = 0; which < 4; ++which) {
      fixture f;
      f.put(data(8, 0, record::flag_first_fragment, 16));
      if (which == 0) f.put(data(16, 0, record::flag_last_fragment, 16));  // 24 > 16
      if (which == 1) f.put(data(8, 0, 0, 16));                            // completes without the last flag
      if (which == 2) f.put(data(4, 0, record::flag_last_fragment, 16));   // last flag, 4 bytes short
      if (which == 3) f.put(data(0, 0, 0, 16));                            // an empty fragment
      f.publish();
      f.expect_corrupted();
    }
  }
  SECTION("a first fragment that is the whole message") {
    fixture f;
    f.put(data(16, 0, record::flag_first_fragment, 16));
    f.publish();
    f.expect_corrupted();
  }
  SECTION("a resync on a continuation, or one that goes backwards") {
    for (int which = 0; which < 2; ++which) {
      fixture f;
      f.put(data(0, 0));
      f.put(data(0, 1));
      f.publish();
      REQUIRE(f.c.try_receive().has_value());
      REQUIRE(f.c.try_receive().has_value());
      if (which == 0) f.put(data(8, 2, record::flag_last_fragment | record::flag_resync, 16));
      if (which == 1) f.put(data(0, 1, whole | record::flag_resync));  // 2 is expected: 1 is backwards
      f.publish();
      f.expect_corrupted();
    }
  }
  SECTION("a resync that jumps forward is accepted") {
    fixture f;
    f.put(data(0, 0));
    f.put(data(0, 41, whole | record::flag_resync));
    f.put(data(0, 42));
    f.publish();
    REQUIRE(f.c.try_receive()->sequence == 0);
    REQUIRE(f.c.try_receive()->sequence == 41);
    REQUIRE(f.c.try_receive()->sequence == 42);
    REQUIRE_FALSE(f.c.corrupted());
  }
}

TEST_CASE("a record changed under the consumer after it was published stays within bounds", "[message][corruption]") {
  // The consumer copies each header out of shared memory once and uses only the copy: a producer rewriting
  // the length after publishing cannot turn a checked length into an unchecked one.
  fixture f;
  f.put(data(100, 0));
  f.publish();
  auto v = f.c.try_read();
  REQUIRE(v.has_value());
  REQUIRE(v->payload.size() == 100);
  auto h = data(100000, 0);
  std::memcpy(f.raw.data(), &h, sizeof h);  // the length is now absurd
  REQUIRE(v->payload.size() == 100);        // the view keeps the checked length
  f.c.release();
  REQUIRE_FALSE(f.c.corrupted());
}

TEST_CASE("random byte flips in a heap ring never crash, never read out of bounds, never loop", "[message][corruption][fuzz]") {
  const std::uint64_t rounds = msgtest::scaled(20000, 3000);
  std::uint64_t corrupted = 0, delivered = 0;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    const std::uint64_t r0 = shmring_test::mix(round);
    shmring::heap_byte_ring ring(256u << (r0 % 3), (r0 >> 8) % 4 == 0 ? 0 : (r0 >> 16) * 8);
    {
      shmring::record_writer w(ring.memory(), 0, false);
      std::vector<std::byte> buf(ring.capacity());
      for (std::uint64_t i = 0; i < 1 + (r0 >> 24) % 12; ++i) {
        const std::size_t n = (shmring_test::mix(r0 + i) % ring.capacity());
        msgtest::fill({buf.data(), n}, i);
        if (!w.try_write({buf.data(), n}, 1, 0, [] { return std::uint64_t{1}; })) break;
      }
    }
    // Flip a few bytes anywhere in the data area, or an index.
    for (std::uint64_t k = 0; k < 1 + (r0 >> 40) % 4; ++k) {
      const std::uint64_t x = shmring_test::mix(r0 ^ (k + 1) * 0x51ED27u);
      if (x % 16 == 0) ring.head().store(ring.head().load() + (x >> 8) % 64 - 32);
      else if (x % 16 == 1) ring.tail().store(ring.tail().load() + (x >> 8) % 64 - 32);
      else ring.data()[(x >> 8) % ring.capacity()] ^= static_cast<std::byte>(1u << ((x >> 32) % 8));
    }
    shmring::record_reader r(ring.memory(), (r0 >> 48) % 2 == 0 ? ring.first_index() : ring.first_index() + 1);
    std::uint64_t polls = 0;
    for (;; ++polls) {
      REQUIRE(polls <= ring.capacity() / 32 + 2);  // every ready consumed >= 32 bytes: bounded
      const auto st = r.poll();
      if (st != shmring::record_reader::status::ready) {
        if (st == shmring::record_reader::status::corrupted) ++corrupted;
        break;
      }
      std::uint32_t sum = shmring_test::crc32(r.payload());  // touches every byte: ASan checks the bounds
      (void)sum;
      ++delivered;
      r.release();
    }
  }
  INFO(corrupted << " rings found corrupted, " << delivered << " messages delivered");
  CHECK(corrupted > rounds / 4);  // the flips do reach headers and indices...
  CHECK(delivered > rounds / 4);  // ...and the reader still delivers what precedes them
}
