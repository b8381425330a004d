// The record-level relay API (shmring-bridge, docs/bridge.md): peek/release_to read ahead without freeing,
// write_some of a message in pieces (outgoing::base/limit, need_data), set_next_sequence, the before-publish hook,
// a relay that resumes a half-written message, and the message_producer/consumer wrappers over a segment.
#include <catch2/catch.hpp>

#include <shmring/ring/byte_ring.hpp>
#include <shmring/shmring.hpp>

#include "checksum.hpp"
#include "message_stream.hpp"
#include "segment_guard.hpp"

#include <chrono>
#include <cstdint>
#include <vector>

using shmring::heap_byte_ring;
using shmring::record_reader;
using shmring::record_view;
using shmring::record_writer;
namespace record = shmring::record;

namespace {

std::vector<std::byte> pattern(std::size_t n, std::uint64_t salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(shmring_test::mix(salt + i / 8) >> (8 * (i % 8)));
  return v;
}

bool write_all(record_writer& w, const std::vector<std::byte>& p, std::uint32_t type) {
  record_writer::outgoing o{p.data(), p.size(), type, 0, 77};
  bool published = false;
  return w.write_some(o, published) == record_writer::progress::done;
}

}  // namespace

TEST_CASE("peek reads records ahead without freeing them, and release_to frees up to a record end") {
  heap_byte_ring ring(1024);
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  const auto a = pattern(100, 1), b = pattern(700, 2);  // b is fragmented (max payload 480)
  REQUIRE(write_all(w, a, 5));
  REQUIRE(write_all(w, b, 6));
  std::vector<record_view> seen;
  for (int i = 0; i < 10; ++i) {
    record_view v;
    const auto st = r.peek(v);
    if (st == record_reader::status::empty) break;
    REQUIRE(st == record_reader::status::ready);
    seen.push_back(v);
  }
  REQUIRE(seen.size() == 3);  // a whole, b in two records
  CHECK(seen[0].header.sequence == 0);
  CHECK(seen[0].header.type == 5);
  CHECK(seen[0].header.timestamp_ns == 77);
  CHECK(std::memcmp(seen[0].payload, a.data(), a.size()) == 0);
  CHECK(seen[1].from == seen[0].to);
  CHECK(seen[2].from == seen[1].to);
  std::uint64_t got = 0;
  for (std::size_t i = 1; i < 3; ++i) {
    CHECK(seen[i].header.sequence == 1);
    CHECK(seen[i].header.message_length == b.size());
    CHECK(std::memcmp(seen[i].payload, b.data() + got, seen[i].header.length) == 0);
    got += seen[i].header.length;
  }
  CHECK(got == b.size());
  CHECK(ring.tail().load() == ring.first_index());  // nothing freed by peeking
  CHECK_FALSE(r.release_to(seen[2].to + 8));         // past what was peeked
  CHECK_FALSE(r.release_to(seen[0].to + 4));         // not a multiple of 8
  REQUIRE(r.release_to(seen[0].to, 1));
  CHECK(ring.tail().load() == seen[0].to);
  r.rewind();  // resend from the oldest record not released
  record_view v;
  REQUIRE(r.peek(v) == record_reader::status::ready);
  CHECK(v.from == seen[1].from);
  CHECK(v.header.sequence == 1);
  CHECK_FALSE(r.release_to(seen[2].to, 2));  // not peeked again since the rewind
  REQUIRE(r.peek(v) == record_reader::status::ready);
  REQUIRE(r.release_to(seen[2].to, 2));
  CHECK(ring.tail().load() == ring.head().load());
}

TEST_CASE("peek refuses a corrupt record and never reads the ring again") {
  heap_byte_ring ring(1024);
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  REQUIRE(write_all(w, pattern(40, 3), 1));
  const std::uint32_t huge = 100000;
  std::memcpy(ring.data(), &huge, sizeof huge);  // the record's length, beyond the ring
  record_view v;
  CHECK(r.peek(v) == record_reader::status::corrupted);
  CHECK(r.corrupted());
  CHECK(r.peek(v) == record_reader::status::corrupted);
  CHECK_FALSE(r.release_to(ring.first_index() + 8));
}

TEST_CASE("a message relayed in pieces, with the original timestamp, sequence and tag, arrives whole") {
  heap_byte_ring ring(4096);
  std::vector<std::uint64_t> heads;
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  w.set_next_sequence(41);  // a jump: the first message carries flag_resync, which the reader accepts
  const auto p = pattern(3000, 9);
  record_writer::outgoing o{nullptr, p.size(), 1234, record::flag_urgent, 999'999};
  o.type_tag = 17;
  for (std::size_t at = 0; at < p.size();) {
    const std::size_t n = std::min<std::size_t>(p.size() - at, 700);
    o.data = p.data() + at;
    o.base = at;
    o.limit = at + n;
    bool published = false;
    const auto pr = w.write_some(o, published, [&](std::uint64_t h) noexcept { heads.push_back(h); });
    REQUIRE(published);
    CHECK(heads.back() == w.head_index());  // the hook saw the head the store then published
    CHECK(o.sent == at + n);
    if (at + n < p.size()) {
      CHECK(pr == record_writer::progress::need_data);
      CHECK(r.poll() == record_reader::status::empty);  // not whole yet
    } else {
      CHECK(pr == record_writer::progress::done);
    }
    at += n;
  }
  REQUIRE(r.poll() == record_reader::status::ready);
  CHECK(r.meta().sequence == 41);
  CHECK(r.meta().timestamp_ns == 999'999);
  CHECK(r.meta().type == 1234);
  CHECK(r.meta().flags == record::flag_urgent);
  CHECK(r.meta().type_tag == 17);
  REQUIRE(r.payload().size() == p.size());
  CHECK(std::memcmp(r.payload().data(), p.data(), p.size()) == 0);
  r.release();
  CHECK(w.next_sequence() == 42);
}

TEST_CASE("a relay that restarts mid-message continues it: the consumer sees one whole message") {
  heap_byte_ring ring(1024);
  record_reader r(ring.memory(), ring.first_index());
  const auto p = pattern(2000, 4);  // larger than the ring
  std::vector<std::byte> got;
  record_writer::outgoing o{nullptr, p.size(), 1, 0, 5};
  {
    record_writer w(ring.memory(), 0, false);
    o.data = p.data();
    o.limit = 900;
    bool published = false;
    for (int guard = 0; o.sent < 900; ++guard) {
      (void)w.write_some(o, published);
      REQUIRE(r.poll() == record_reader::status::empty);
      REQUIRE(guard < 100);
    }
  }
  // A new writer (as after a restart) over the same ring, resuming at o.sent with the same sequence.
  record_writer w2(ring.memory(), 1, true);
  record_writer::outgoing o2{nullptr, p.size(), 1, 0, 5};
  o2.started = true;
  o2.sequence = 0;
  o2.sent = o.sent;
  o2.data = p.data() + o2.sent;
  o2.base = o2.sent;
  bool published = false;
  for (int guard = 0;; ++guard) {
    const auto pr = w2.write_some(o2, published);
    const auto st = r.poll();
    if (pr == record_writer::progress::done && st == record_reader::status::ready) break;
    REQUIRE(st == record_reader::status::empty);
    REQUIRE(guard < 100);
  }
  CHECK(r.meta().sequence == 0);
  REQUIRE(r.payload().size() == p.size());
  CHECK(std::memcmp(r.payload().data(), p.data(), p.size()) == 0);
  CHECK(r.dropped() == 0);
}

TEST_CASE("message_consumer peeks and releases records, and message_producer relays pieces with set_next_sequence") {
  shmring_test::segment_guard src("relay-src"), dst("relay-dst");
  auto prod = shmring::message_producer::create(src.name(), 4096);
  auto cons = shmring::message_consumer::create(dst.name(), 4096);
  auto relay_in = shmring::message_consumer::open(src.name());
  auto relay_out = shmring::message_producer::open(dst.name());
  const auto big = pattern(5000, 8);
  prod.send(shmring::text_bytes("hello"), shmring::message_type::control, shmring::message_flags::urgent);
  std::vector<std::uint64_t> journal;
  relay_out.set_next_sequence(0);
  // The big message goes out fragment by fragment as the relay frees the source ring.
  shmring::message_producer::relay_message out{};
  bool big_done = false;
  std::size_t records = 0;
  auto forward = [&](const record_view& v) {
    if ((v.header.flags & record::flag_first_fragment) != 0) {
      out = {};
      out.size = v.header.message_length;
      out.type = v.header.type;
      out.flags = v.header.flags & record::user_flags;
      out.timestamp_ns = v.header.timestamp_ns;
      out.type_tag = v.header.type_tag;
      relay_out.set_next_sequence(v.header.sequence);
    }
    REQUIRE(relay_out.relay_until(out, {v.payload, v.header.length}, std::chrono::steady_clock::time_point::max(),
                                  [&](std::uint64_t h) { journal.push_back(h); }));
    const bool last = (v.header.flags & record::flag_last_fragment) != 0;
    REQUIRE(relay_in.release_records(v.to, last ? v.header.sequence + 1 : 0));
    ++records;
  };
  REQUIRE(relay_in.peek_index() == relay_in.released_index());
  auto v = relay_in.try_peek_record();
  REQUIRE(v);
  forward(*v);
  auto m = cons.receive();
  CHECK(m.text() == "hello");
  CHECK(m.type == shmring::message_type::control);
  CHECK(m.flags == shmring::message_flags::urgent);
  CHECK(m.sequence == 0);
  CHECK_FALSE(relay_in.try_peek_record());
  // The big message: the producer streams it while the relay forwards each record and frees it.
  shmring::message_producer::relay_message from{};
  from.data = big.data();
  from.size = big.size();
  from.type = 9;
  for (int guard = 0; !big_done; ++guard) {
    if (from.sent < from.size)
      (void)prod.relay_until(from, {big.data() + from.sent, big.size() - from.sent}, std::chrono::steady_clock::now(),
                             [](std::uint64_t) {});
    while (auto r = relay_in.try_peek_record()) forward(*r);
    if (auto got = cons.try_receive()) {
      REQUIRE(got->size() == big.size());
      CHECK(got->sequence == 1);
      CHECK(got->type == static_cast<shmring::message_type>(9));
      CHECK(std::memcmp(got->payload.data(), big.data(), big.size()) == 0);
      big_done = true;
    }
    REQUIRE(guard < 10000);
  }
  CHECK(records >= 3);
  CHECK(journal.back() == relay_out.head_index());
  // Read-ahead timing out: nothing waits.
  CHECK_FALSE(relay_in.peek_record_for(std::chrono::milliseconds(1)));
}

TEST_CASE("deferred publishing: a relay writes several messages and publishes them with one store") {
  heap_byte_ring ring(4096);
  record_writer w(ring.memory(), 0, false);
  record_reader r(ring.memory(), ring.first_index());
  w.defer_publish(true);
  const auto p = pattern(300, 5);
  for (std::uint64_t i = 0; i < 3; ++i) {
    record_writer::outgoing o{p.data(), p.size(), static_cast<std::uint32_t>(i), 0, i};
    bool published = true;
    REQUIRE(w.write_some(o, published, [](std::uint64_t) noexcept { FAIL("no publish while deferred"); }) ==
            record_writer::progress::done);
    CHECK_FALSE(published);
  }
  CHECK(ring.head().load() == ring.first_index());  // nothing visible yet
  CHECK(r.poll() == record_reader::status::empty);
  int hooks = 0;
  REQUIRE(w.flush([&](std::uint64_t h) noexcept {
    ++hooks;
    CHECK(h == w.head_index());
  }));
  CHECK(hooks == 1);
  CHECK_FALSE(w.flush([](std::uint64_t) noexcept {}));  // nothing more to publish
  for (std::uint64_t i = 0; i < 3; ++i) {
    REQUIRE(r.poll() == record_reader::status::ready);
    CHECK(r.meta().sequence == i);
    CHECK(r.meta().type == i);
    CHECK(std::memcmp(r.payload().data(), p.data(), p.size()) == 0);
    r.release();
  }
}
