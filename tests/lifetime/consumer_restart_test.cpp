// Nothing accepted is lost across a consumer restart. A consumer killed (SIGKILL) while it holds a message from
// read() leaves that message to the next consumer, which receives it first, whole, then everything after it:
// every sequence number once, every payload's CRC checked. This holds for single records and for fragmented
// messages that fit the ring whole (held until release). A message larger than the ring cannot be held (the
// producer needs the room back to send the rest): it is lost with the consumer that held it, and the loss is
// counted in dropped(), never silent.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::crc32;
using shmring_test::mix;
using shmring_test::read_line;
using shmring_test::segment_guard;

namespace {

constexpr std::uint64_t ring_bytes = 1 << 16;
constexpr std::uint64_t total = 400;

/// Message i: 8 to 2000 bytes, except message `special`, which has `special_size` (>= 8) bytes. The first 8 bytes
/// carry i (a message's ring sequence may differ from i: see restart_producer); the rest is a function of i.
std::vector<std::byte> payload_of(std::uint64_t i, std::uint64_t special, std::uint64_t special_size) {
  const std::size_t n =
      i == special ? static_cast<std::size_t>(special_size) : static_cast<std::size_t>(8 + mix(i) % 1993);
  std::vector<std::byte> p(n);
  std::uint64_t x = mix(i + 77);
  for (std::size_t k = 0; k < n; ++k) {
    if (k % 8 == 0) x = mix(x);
    p[k] = static_cast<std::byte>(x >> (8 * (k % 8)));
  }
  std::memcpy(p.data(), &i, 8);
  return p;
}

std::uint64_t index_of(std::span<const std::byte> payload) {
  std::uint64_t i = ~std::uint64_t{0};
  if (payload.size() >= 8) std::memcpy(&i, payload.data(), 8);
  return i;
}

}  // namespace

// args: name special special_size. Sends messages 0..total-1, then closes. A consumer that dies while this waits
// for room makes send() throw peer_dead; the message is then sent again (a single record was not sent at all; a
// fragmented one was given up and is sent whole under a new sequence number, which the resync flag excuses).
SHMRING_CHILD(restart_producer) {
  auto p = message_producer::open(args.at(0));
  const std::uint64_t special = std::stoull(args.at(1)), size = std::stoull(args.at(2));
  for (std::uint64_t i = 0; i < total; ++i) {
    for (;;) {
      try {
        p.send(payload_of(i, special, size));
        break;
      } catch (const error& e) {
        if (e.code() != errc::peer_dead) throw;
      }
    }
  }
  p.close();
  return 0;
}

// args: name special special_size. Receives and releases messages before `special` (checked), then read()s
// `special`, prints "held <sequence>" and waits to be killed without releasing it. Exit 3 on a bad message.
SHMRING_CHILD(holding_consumer) {
  auto c = message_consumer::open(args.at(0));
  const std::uint64_t special = std::stoull(args.at(1)), size = std::stoull(args.at(2));
  for (;;) {
    const message_view v = c.read();
    const std::uint64_t i = index_of(v.payload);
    const auto want = payload_of(i, special, size);
    if (v.payload.size() != want.size() || crc32(v.payload) != crc32(want)) return 3;
    if (i == special) {
      std::printf("held %llu\n", static_cast<unsigned long long>(i));
      std::fflush(stdout);
      for (;;) ::pause();
    }
    c.release();
  }
}

TEST_CASE("a consumer killed holding read() leaves the message to its successor, once", "[lifecycle][restart]") {
  struct shape {
    const char* what;
    std::uint64_t size;
    bool kept;  // whether the successor receives it (held) or counts it dropped (larger than the ring)
  };
  const shape s = GENERATE(shape{"a single record", 1500, true}, shape{"the smallest message with an index", 8, true},
                           shape{"the largest single record", ring_bytes / 2 - 32, true},
                           shape{"a fragmented message that fits the ring", ring_bytes / 2 + 4000, true},
                           shape{"the largest message that fits whole", ring_bytes - 96, true},
                           shape{"a message larger than the ring", 3 * ring_bytes, false});
  const int rounds = static_cast<int>(shmring_test::scaled(10, 3));
  for (int round = 0; round < rounds; ++round) {
    INFO(s.what << ", round " << round);
    segment_guard g("restart");
    const std::uint64_t special = 50 + static_cast<std::uint64_t>(round) * 31;
    // Persistent: an empty ring that its only side leaves is otherwise retired at once. segment_guard removes it.
    options keep;
    keep.persistent = true;
    { auto creator = message_consumer::create(g.name(), ring_bytes, keep); }
    const std::vector<std::string> args{g.name(), std::to_string(special), std::to_string(s.size)};
    child_process producer_child("restart_producer", args);
    {
      child_process holder("holding_consumer", args, true);
      REQUIRE(read_line(holder.output_fd()) == "held " + std::to_string(special));
      holder.kill_now();
    }
    auto c = message_consumer::open(g.name());
    std::uint64_t next = s.kept ? special : special + 1;
    std::uint64_t last_sequence = 0;
    bool first = true;
    const errc end = code_of([&] {
      for (;;) {
        const message m = c.receive();
        REQUIRE(index_of(m.payload) == next);
        REQUIRE((first || m.sequence > last_sequence));
        first = false;
        last_sequence = m.sequence;
        const auto want = payload_of(next, special, s.size);
        REQUIRE(m.payload.size() == want.size());
        REQUIRE(crc32(m.payload) == crc32(want));
        ++next;
      }
    });
    CHECK(end == errc::closed);
    CHECK(next == total);
    CHECK(c.dropped() == (s.kept ? 0u : 1u));
    CHECK(producer_child.wait() == 0);
  }
}
