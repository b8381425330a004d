// try_send never livelocks (issue 12): a message of at most max_try_send() bytes goes into an empty ring from every
// head position, and a larger one is refused from every head position (so a retry loop can tell "full, try again"
// from "never": payload.size() > max_try_send()). Before, 1000 bytes into a 1024-byte ring needed 1096 bytes
// (fragments of max_payload plus padding) and try_send said "full" for ever; from some head positions even a
// message just over max_record_payload() never fitted.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/message.hpp>
#include <shmring/ring/byte_ring.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

using namespace shmring;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {

std::vector<std::byte> payload_of(std::uint64_t n, std::uint64_t salt) {
  std::vector<std::byte> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::byte>(mix(salt * 65'537 + i));
  return v;
}

}  // namespace

TEST_CASE("max_try_send is capacity - 96, at least max_record_payload", "[message][try_send]") {
  for (const std::uint64_t cap : {128u, 1024u, 65536u}) {
    segment_guard g("trysend-bound");
    auto p = message_producer::create(g.name(), cap);
    CHECK(p.max_try_send() == cap - 96);
    CHECK(p.max_try_send() >= p.max_record_payload());
  }
}

TEST_CASE("the record writer takes every message of at most max_try bytes into an empty ring at every head offset, "
          "and the reader gets it whole",
          "[message][try_send]") {
  // Heap memory (the ring makes no system call): every (offset, size) pair gets a fresh empty ring at that offset.
  const std::uint64_t cap = GENERATE(128u, 256u, 1024u);
  CAPTURE(cap);
  const std::uint64_t bound = record_writer::max_try_write(cap);
  std::uint64_t wrong = 0;
  for (std::uint64_t off = 0; off < cap; off += 8) {
    for (std::uint64_t n = 0; n <= cap; ++n) {
      heap_byte_ring mem(cap, (std::uint64_t{1} << 40) + off);  // far from 0: the offset is what matters
      record_writer w(mem.memory(), 0, false);
      record_reader r(mem.memory(), mem.first_index());
      const std::vector<std::byte> data = payload_of(n, off * 4096 + n);
      const bool sent = w.try_write(data, 3, 0, [] { return std::uint64_t{42}; });
      if (sent != (n <= bound)) {
        UNSCOPED_INFO("offset " << off << ", size " << n << ": try_write said " << sent);
        ++wrong;
        continue;
      }
      if (!sent) {
        if (mem.head().load() != mem.first_index()) ++wrong;  // a refusal writes nothing
        continue;
      }
      const auto st = r.poll();
      const auto got = r.payload();
      if (st != record_reader::status::ready || r.meta().length != n || r.meta().type != 3 ||
          !std::equal(got.begin(), got.end(), data.begin(), data.end())) {
        UNSCOPED_INFO("offset " << off << ", size " << n << ": not received whole");
        ++wrong;
      }
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("try_send succeeds into an empty ring at every head offset exactly up to max_try_send, and the consumer "
          "receives the message whole",
          "[message][try_send][ipc]") {
  // The real producer and consumer over a segment created at each head offset (options::first_index): the
  // largest message try_send takes, the smallest it refuses, the largest record and the capacity.
  constexpr std::uint64_t cap = 1024;
  for (std::uint64_t off = 0; off < cap; off += 8) {
    CAPTURE(off);
    segment_guard g("trysend");
    options o;
    o.first_index = off;
    auto p = message_producer::create(g.name(), cap, o);
    auto c = message_consumer::open(g.name(), o);
    const std::uint64_t bound = p.max_try_send();
    for (const std::uint64_t n : {bound + 1, cap - 1, cap}) {
      CAPTURE(n);
      CHECK_FALSE(p.try_send(payload_of(n, n)));  // refused every time: never "full, try again"
    }
    CHECK(c.try_receive() == std::nullopt);
    for (const std::uint64_t n : {bound, p.max_record_payload() + 1, bound - 7}) {
      CAPTURE(n);
      // The ring is empty again after each receive, at a head offset that depends on what went before; a fresh
      // segment per offset covers the first one, and the loop below covers the others.
      const std::vector<std::byte> data = payload_of(n, off + n);
      REQUIRE(p.try_send(data));
      const auto m = c.try_receive();
      REQUIRE(m.has_value());
      CHECK(m->payload == data);
    }
  }
}

TEST_CASE("a retry loop of try_send of max_try_send bytes never livelocks against a consumer", "[message][try_send][ipc]") {
  segment_guard g("trysend-loop");
  constexpr std::uint64_t cap = 1024;
  auto p = message_producer::create(g.name(), cap);
  auto c = message_consumer::open(g.name());
  std::uint64_t received = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    const std::uint64_t n = p.max_try_send() - (i % 64);  // every length near the bound, at drifting heads
    const std::vector<std::byte> data = payload_of(n, i);
    // Single-threaded: when try_send says full, draining the ring must make room; a second failure is a livelock.
    if (!p.try_send(data)) {
      while (auto m = c.try_receive()) ++received;
      REQUIRE(p.try_send(data));
    }
  }
  while (c.try_receive()) ++received;
  CHECK(received == 2000);
}
