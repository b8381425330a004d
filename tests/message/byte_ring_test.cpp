// The framed-record ring (byte_ring.hpp) on heap memory: every payload size around every wrap point, fragments,
// the all-or-nothing try_write, reserve/commit/abandon, in-place reads, restart semantics, and two threads.
#include <catch2/catch.hpp>

#include <shmring/ring/byte_ring.hpp>

#include "checksum.hpp"
#include "message_stream.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

using shmring::heap_byte_ring;
using shmring::record_reader;
using shmring::record_writer;
namespace record = shmring::record;

namespace {

/// A clock that counts: every message gets a distinct, known timestamp.
struct fake_clock {
  std::uint64_t now = 1000;
  std::uint64_t operator()() noexcept { return now += 7; }
};

std::vector<std::byte> pattern(std::size_t n, std::uint64_t salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(shmring_test::mix(salt + i / 8) >> (8 * (i % 8)));
  return v;
}

/// Sends o through w from one thread, draining r into its reassembly buffer whenever w needs room.
void pump(record_writer& w, record_reader& r, record_writer::outgoing& o) {
  for (int guard = 0;; ++guard) {
    bool published = false;
    const auto p = w.write_some(o, published);
    if (p == record_writer::progress::done) return;
    REQUIRE(p == record_writer::progress::need_room);
    REQUIRE(r.poll() == record_reader::status::empty);  // consumes the fragments written so far
    REQUIRE(guard < 1'000'000);
  }
}

struct expect {
  std::uint64_t seq;
  std::uint64_t ts;
  std::uint32_t type;
  std::uint8_t flags;
  const std::vector<std::byte>* payload;
};

void receive_and_check(record_reader& r, const expect& e) {
  REQUIRE(r.poll() == record_reader::status::ready);
  const auto& m = r.meta();
  if (m.sequence != e.seq || m.timestamp_ns != e.ts || m.type != e.type || m.flags != e.flags ||
      m.length != e.payload->size() || r.payload().size() != e.payload->size() ||
      (m.length != 0 && std::memcmp(r.payload().data(), e.payload->data(), m.length) != 0)) {
    INFO("seq " << m.sequence << "/" << e.seq << " ts " << m.timestamp_ns << "/" << e.ts << " type " << m.type << "/"
                << e.type << " flags " << int(m.flags) << "/" << int(e.flags) << " length " << m.length << "/"
                << e.payload->size());
    FAIL("message differs from what was sent");
  }
  r.release();
}

}  // namespace

TEST_CASE("every payload size from 0 to 3x the capacity round-trips from every start offset", "[message][ring]") {
  // 256-byte ring: records of at most 96 payload bytes, so sizes > 96 fragment and sizes > 256 cannot be in the
  // ring at once. Starting at every multiple of 8 (and just below 2^64) puts every record boundary on every wrap
  // point, with and without padding records.
  constexpr std::uint64_t cap = 256;
  std::uint64_t with_padding = 0, fragmented = 0, in_place = 0;
  for (int wrap = 0; wrap < 2; ++wrap) {
    for (std::uint64_t start = 0; start < cap; start += 8) {
      const std::uint64_t first = wrap == 0 ? start : std::uint64_t{0} - 4 * cap + start;
      heap_byte_ring ring(cap, first);
      record_writer w(ring.memory(), 0, false);
      record_reader r(ring.memory(), ring.first_index());
      fake_clock clk;
      for (std::uint64_t n = 0, seq = 0; n <= 3 * cap; ++n, ++seq) {
        const auto payload = pattern(n, n * 131 + start);
        const auto type = static_cast<std::uint32_t>(n % 5 == 0 ? 1000 + n : 1 + n % 4);
        const auto flags = static_cast<std::uint8_t>(n % 16);  // 0x08 (last_fragment) from a sender is ignored
        const std::uint64_t paddings = w.paddings();
        record_writer::outgoing o{payload.data(), n, type, flags, clk()};
        pump(w, r, o);
        REQUIRE(o.sequence == seq);
        if (w.paddings() != paddings) ++with_padding;
        if (n > w.max_payload()) ++fragmented;
        receive_and_check(r, {seq, clk.now, type, static_cast<std::uint8_t>(flags & record::user_flags), &payload});
        if (n <= w.max_payload()) ++in_place;
      }
      REQUIRE_FALSE(r.corrupted());
      REQUIRE(r.dropped() == 0);
      REQUIRE(r.paddings() == w.paddings());
      REQUIRE(ring.head().load() == ring.tail().load());
    }
  }
  CHECK(with_padding > 1000);
  CHECK(fragmented > 1000);
  CHECK(in_place > 1000);
}

TEST_CASE("try_write publishes a whole message or nothing", "[message][ring]") {
  heap_byte_ring ring(1024);
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  fake_clock clk;
  const auto small = pattern(100, 1);  // 136-byte records
  int sent = 0;
  while (w.try_write(small, 1, 0, clk)) ++sent;
  REQUIRE(sent == 1024 / 136);
  const std::uint64_t head = ring.head().load();
  const std::uint64_t ts_before = clk.now;
  REQUIRE_FALSE(w.try_write(small, 1, 0, clk));  // full: nothing written, no clock read
  REQUIRE(ring.head().load() == head);
  REQUIRE(clk.now == ts_before);

  SECTION("a fragmented message that fits is published with one index store") {
    for (int i = 0; i < sent; ++i) receive_and_check(r, {std::uint64_t(i), 1007 + 7 * std::uint64_t(i), 1, 0, &small});
    const auto big = pattern(700, 2);  // max payload 480: two fragments
    REQUIRE(w.try_write(big, 7, 0x01, clk));
    REQUIRE(r.poll() == record_reader::status::ready);
    REQUIRE_FALSE(r.in_place());
    REQUIRE(r.meta().length == 700);
    REQUIRE(std::memcmp(r.payload().data(), big.data(), 700) == 0);
    r.release();
  }
  SECTION("a message larger than the ring is never written by try_write") {
    for (int i = 0; i < sent; ++i) receive_and_check(r, {std::uint64_t(i), 1007 + 7 * std::uint64_t(i), 1, 0, &small});
    const auto huge = pattern(1025, 3);
    REQUIRE_FALSE(w.try_write(huge, 1, 0, clk));
    REQUIRE(ring.head().load() == ring.tail().load());
    REQUIRE(r.poll() == record_reader::status::empty);
  }
}

TEST_CASE("reserve, write in place and commit; abandon leaves nothing", "[message][ring][zero-copy]") {
  heap_byte_ring ring(512);  // max payload 224
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  REQUIRE(w.try_reserve(225) == nullptr);  // over max_payload

  std::byte* p = w.try_reserve(200);
  REQUIRE(p != nullptr);
  REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 8 == 0);
  REQUIRE(w.try_reserve(8) == nullptr);                        // one reservation at a time
  REQUIRE_FALSE(w.try_write(pattern(8, 0), 1, 0, fake_clock{}));  // no send while one is open
  std::memcpy(p, "hello, in place", 15);
  REQUIRE(r.poll() == record_reader::status::empty);  // nothing visible before commit
  w.commit(15, 3, record::flag_urgent, 42);
  REQUIRE(r.poll() == record_reader::status::ready);
  REQUIRE(r.in_place());
  REQUIRE(r.payload().data() == p);  // the consumer reads the very bytes the producer wrote
  REQUIRE(r.meta().length == 15);
  REQUIRE(r.meta().type == 3);
  REQUIRE(r.meta().flags == record::flag_urgent);
  REQUIRE(r.meta().timestamp_ns == 42);
  REQUIRE(r.meta().sequence == 0);
  r.release();

  // Abandoned reservations, with and without the padding they would have needed, leave no trace and use no
  // sequence number.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(w.try_reserve(static_cast<std::uint64_t>(50 + 9 * i)) != nullptr);
    w.abandon();
    REQUIRE(r.poll() == record_reader::status::empty);
    const auto m = pattern(static_cast<std::size_t>(60 + 5 * i), static_cast<std::uint64_t>(i));
    REQUIRE(w.try_write(m, 1, 0, [] { return std::uint64_t{9}; }));
    receive_and_check(r, {std::uint64_t(i) + 1, 9, 1, 0, &m});
  }
  REQUIRE(w.paddings() > 0);
  REQUIRE_FALSE(r.corrupted());
}

TEST_CASE("an in-place read stays put until it is released", "[message][ring][zero-copy]") {
  heap_byte_ring ring(256);
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  const auto a = pattern(40, 1), b = pattern(40, 2);
  REQUIRE(w.try_write(a, 1, 0, fake_clock{}));
  REQUIRE(w.try_write(b, 1, 0, fake_clock{}));
  REQUIRE(r.poll() == record_reader::status::ready);
  const std::byte* first = r.payload().data();
  const std::uint64_t tail = ring.tail().load();
  REQUIRE(r.poll() == record_reader::status::ready);  // the same message again
  REQUIRE(r.payload().data() == first);
  REQUIRE(ring.tail().load() == tail);  // its bytes still belong to the consumer
  r.release();
  REQUIRE(ring.tail().load() == tail + record::size_of(40));
  REQUIRE(r.poll() == record_reader::status::ready);
  REQUIRE(std::memcmp(r.payload().data(), b.data(), 40) == 0);
}

TEST_CASE("a producer that takes over drops the message its predecessor left half-sent", "[message][ring][restart]") {
  heap_byte_ring ring(256);  // max payload 96
  record_reader r(ring.memory(), ring.first_index());
  std::atomic<std::uint64_t> seq_word{0};
  const auto big = pattern(1000, 5);
  std::uint64_t next = 0;
  {
    record_writer dead(ring.memory(), seq_word.load(), false, &seq_word);
    record_writer::outgoing o{big.data(), big.size(), 1, 0, 77};
    bool published = false;
    REQUIRE(dead.write_some(o, published) == record_writer::progress::need_room);
    REQUIRE(published);
    REQUIRE(r.poll() == record_reader::status::empty);
    REQUIRE(r.partial_bytes() > 0);
    REQUIRE(dead.write_some(o, published) == record_writer::progress::need_room);  // more fragments, then it "dies"
    next = dead.next_sequence();
  }
  REQUIRE(seq_word.load() == next);  // stored before the first fragment was published
  record_writer heir(ring.memory(), seq_word.load(), /*resync_first=*/true, &seq_word);
  const auto after = pattern(30, 6);
  record_writer::outgoing o{after.data(), after.size(), 2, 0, 88};
  pump(heir, r, o);
  receive_and_check(r, {1, 88, 2, 0, &after});  // sequence 1: 0 was the lost message
  REQUIRE(r.dropped() == 1);
  REQUIRE(r.partial_bytes() == 0);
  REQUIRE_FALSE(r.corrupted());
  const auto again = pattern(10, 7);
  REQUIRE(heir.try_write(again, 1, 0, [] { return std::uint64_t{3}; }));
  receive_and_check(r, {2, 3, 1, 0, &again});  // and strict sequencing resumes
}

TEST_CASE("a producer that gives up a message sends the next one with a resync", "[message][ring][restart]") {
  heap_byte_ring ring(256);
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  const auto big = pattern(1000, 8);
  record_writer::outgoing o{big.data(), big.size(), 1, 0, 5};
  bool published = false;
  REQUIRE(w.write_some(o, published) == record_writer::progress::need_room);
  REQUIRE(w.abort(o));  // e.g. send_for timed out
  const auto next = pattern(20, 9);
  record_writer::outgoing o2{next.data(), next.size(), 1, 0, 6};
  pump(w, r, o2);  // drains the abandoned fragments into the reader first
  receive_and_check(r, {1, 6, 1, 0, &next});
  REQUIRE(r.dropped() == 1);
}

TEST_CASE("a consumer that takes over skips the rest of a message its predecessor began", "[message][ring][restart]") {
  heap_byte_ring ring(256);
  record_writer w(ring.memory(), 0, false);
  const auto big = pattern(600, 10), after = pattern(33, 11);
  record_writer::outgoing o{big.data(), big.size(), 1, 0, 5};
  {
    record_reader dead(ring.memory(), ring.first_index());
    bool published = false;
    REQUIRE(w.write_some(o, published) == record_writer::progress::need_room);
    REQUIRE(dead.poll() == record_reader::status::empty);
    REQUIRE(dead.partial_bytes() > 0);  // it consumed the first fragments, then "died"
  }
  record_reader heir(ring.memory(), ring.first_index());
  for (;;) {
    bool published = false;
    const auto p = w.write_some(o, published);
    if (p == record_writer::progress::done) break;
    REQUIRE(heir.poll() == record_reader::status::empty);
  }
  record_writer::outgoing o2{after.data(), after.size(), 4, 0, 12};
  pump(w, heir, o2);
  receive_and_check(heir, {1, 12, 4, 0, &after});
  REQUIRE(heir.dropped() == 1);
  REQUIRE(heir.partial_bytes() == 0);
}

TEST_CASE("two threads pass random-size messages, fragmented and in place, all checked", "[message][ring][threads]") {
  // TSAN runs this: the writer's plain stores of records and the reader's plain loads are ordered only by the
  // index release/acquire pairs.
  const std::uint64_t count = msgtest::scaled(200'000, 20'000);
  heap_byte_ring ring(4096, std::uint64_t{0} - 64 * 1024);  // max payload 2016; crosses 2^64 early
  std::atomic<bool> failed{false};
  std::thread producer([&] {
    record_writer w(ring.memory(), 0, false);
    std::vector<std::byte> buf(16384);
    for (std::uint64_t i = 0; i < count && !failed.load(std::memory_order_relaxed); ++i) {
      const std::size_t n = msgtest::random_size(42, i, 12000);
      if (i % 3 == 1 && n <= w.max_payload()) {  // zero copy
        std::byte* p;
        while ((p = w.try_reserve(n)) == nullptr) std::this_thread::yield();
        msgtest::fill({p, n}, i, 42);
        w.commit(n, static_cast<std::uint32_t>(msgtest::type_of(i)), static_cast<std::uint8_t>(msgtest::flags_of(i)), i);
        continue;
      }
      msgtest::fill({buf.data(), n}, i, 42);
      record_writer::outgoing o{buf.data(), n, static_cast<std::uint32_t>(msgtest::type_of(i)),
                                static_cast<std::uint8_t>(msgtest::flags_of(i)), i};
      bool published = false;
      while (w.write_some(o, published) != record_writer::progress::done) std::this_thread::yield();
    }
  });
  record_reader r(ring.memory(), ring.first_index());
  std::uint64_t bad = 0, i = 0, fragmented = 0;
  while (i < count && bad == 0) {
    const auto st = r.poll();
    if (st == record_reader::status::empty) {
      std::this_thread::yield();
      continue;
    }
    if (st == record_reader::status::corrupted) {
      bad = 1;
      break;
    }
    const auto& m = r.meta();
    const std::size_t n = msgtest::random_size(42, i, 12000);
    if (m.sequence != i || m.length != n || m.timestamp_ns != i || m.type != static_cast<std::uint32_t>(msgtest::type_of(i)) ||
        m.flags != static_cast<std::uint8_t>(msgtest::flags_of(i)) || !msgtest::check(r.payload(), i))
      bad = 1;
    if (!r.in_place()) ++fragmented;
    r.release();
    ++i;
  }
  failed = bad != 0;
  producer.join();
  INFO("message " << i << (r.corrupted() ? std::string(": ") + r.corruption() : std::string()));
  REQUIRE(bad == 0);
  REQUIRE(i == count);
  REQUIRE(fragmented > 0);
  REQUIRE(r.dropped() == 0);
}
