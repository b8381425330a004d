// The waiting and liveness rules on the message ring (variable-length records, fragments): a receiver sleeping
// in the kernel is woken by every send of another process, also when messages are larger than a record and go
// out fragment by fragment; and a producer killed at random points leaves the waiting consumer with
// errc::peer_dead, an increasing, CRC-checked run of messages, and a ring a restarted producer continues.
#include <catch2/catch.hpp>

#include "line_reader.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"
#include "wake_timing.hpp"

#include <shmring/shmring.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifndef SHMRING_KILLS
#define SHMRING_KILLS 100
#endif

using namespace shmring;
using namespace shmring_test;

namespace {

// Payload of message seq: seq, bytes derived from it, CRC-32 of all before. At least 12 bytes.
std::vector<std::byte> payload_of(std::uint64_t seq, std::size_t size) {
  std::vector<std::byte> p(size);
  std::memcpy(p.data(), &seq, 8);
  std::uint64_t x = mix(seq);
  for (std::size_t i = 8; i + 4 < size; ++i) {
    if ((i & 7) == 0) x = mix(x);
    p[i] = static_cast<std::byte>(x >> ((i & 7) * 8));
  }
  const std::uint32_t c = crc32(std::span<const std::byte>(p).first(size - 4));
  std::memcpy(p.data() + size - 4, &c, 4);
  return p;
}

bool payload_ok(std::uint64_t seq, std::span<const std::byte> p) {
  if (p.size() < 12) return false;
  const auto want = payload_of(seq, p.size());
  return std::memcmp(want.data(), p.data(), p.size()) == 0;
}

// Sizes from 12 bytes to over the largest record of a 4 KiB ring (about 2 KiB): some messages are fragmented.
std::size_t size_of(std::uint64_t i) { return 12 + static_cast<std::size_t>(mix(i ^ 0xabcdef) % 5000); }

constexpr std::uint64_t cycles = 20'000;
constexpr std::uint64_t capacity = 4096;

}  // namespace

// args: ping pong. Receives message i on ping and sends an answer of the same size on pong. The answer's type
// carries its sleep count (read after the receive returned) so the parent can time against it.
SHMRING_CHILD(message_pong) {
  shmring_test::die_with_parent();
  auto in = message_consumer::open(args.at(0), sleepy());
  auto out = message_producer::open(args.at(1), sleepy());
  const header_view pong(args.at(1));
  for (std::uint64_t i = 0; i < cycles; ++i) {
    const message m = in.receive();
    if (m.sequence != i || m.size() != size_of(i) || !payload_ok(i, m.payload)) {
      report("bad " + std::to_string(i));
      return 3;
    }
    const auto parent_sleeps = static_cast<std::uint64_t>(m.type) - static_cast<std::uint64_t>(message_type::custom_min);
    time_push(i, pong.h().consumer_wait, pong.h().consumer_stats, parent_sleeps);
    const auto my_sleeps = static_cast<std::uint32_t>(in.sleeps());
    out.send(payload_of(i, size_of(i)), static_cast<message_type>(static_cast<std::uint32_t>(message_type::custom_min) + my_sleeps));
  }
  report("ok " + std::to_string(in.sleeps()) + " " + std::to_string(out.wake_calls()));
  return 0;
}

TEST_CASE("a message receiver sleeping in the kernel is woken by every send, fragmented ones too", "[ipc][wait][message]") {
  segment_guard ping("mping"), pong("mpong");
  auto out = message_producer::create(ping.name(), capacity, sleepy());
  auto in = message_consumer::create(pong.name(), capacity, sleepy());
  REQUIRE(out.max_record_payload() < 5000);  // so some messages are fragmented
  const header_view ping_view(ping.name());
  child_process child("message_pong", {ping.name(), pong.name()}, true);
  std::uint64_t wrong = 0, child_sleeps_seen = 0, fragmented = 0;
  for (std::uint64_t i = 0; i < cycles; ++i) {
    time_push(i, ping_view.h().consumer_wait, ping_view.h().consumer_stats, child_sleeps_seen);
    fragmented += size_of(i) > out.max_record_payload() ? 1 : 0;
    // The message type carries our sleep count to the child (types from custom_min up are the application's).
    out.send(payload_of(i, size_of(i)),
             static_cast<message_type>(static_cast<std::uint32_t>(message_type::custom_min) + static_cast<std::uint32_t>(in.sleeps())));
    const message a = in.receive();
    if (a.sequence != i || a.size() != size_of(i) || !payload_ok(i, a.payload)) ++wrong;
    child_sleeps_seen = static_cast<std::uint64_t>(a.type) - static_cast<std::uint64_t>(message_type::custom_min);
  }
  const auto w = final_report(child, 3);
  REQUIRE(w[0] == "ok");
  CHECK(wrong == 0);
  CHECK(fragmented > 0);
  const std::uint64_t child_sleeps = std::stoull(w[1]);
  CHECK(in.sleeps() >= cycles / 8);  // every eighth send waited until the receiver was really asleep
  CHECK(child_sleeps >= cycles / 8);
  CHECK(out.wake_calls() > 0);
  std::printf("message ping-pong: %" PRIu64 " cycles (%" PRIu64 " fragmented), parent %" PRIu64 " sleeps / %" PRIu64
              " wake calls, child %" PRIu64 " sleeps / %s wake calls\n",
              cycles, fragmented, in.sleeps(), out.wake_calls(), child_sleeps, w[2].c_str());
}

// ---------------------------------------------------------------------------------------- producer killed

// args: name release_fd. Creates the message ring and receives for ever, checking each message against its own
// sequence number; sequences must increase. On peer_dead reports "dead <next expected sequence>" and waits to be
// released. Ends at a message of type control: "done <messages> <gaps>".
SHMRING_CHILD(message_enduring_consumer) {
  shmring_test::die_with_parent();
  options o;
  o.wait.liveness_interval = std::chrono::milliseconds(5);
  auto c = message_consumer::create(args.at(0), 1 << 16, o);
  const int release_fd = std::stoi(args.at(1));
  report("ready");
  std::uint64_t next = 0, received = 0, gaps = 0;
  for (;;) {
    try {
      const message m = c.receive();
      if (m.sequence < next || !payload_ok(m.sequence, m.payload)) {
        report("bad " + std::to_string(m.sequence) + " " + std::to_string(next));
        return 3;
      }
      gaps += m.sequence - next;
      next = m.sequence + 1;
      ++received;
      if (m.type == message_type::control) break;
    } catch (const error& e) {
      if (e.code() != errc::peer_dead) throw;
      report("dead " + std::to_string(next));
      if (!shmring_test::wait_released(release_fd)) return 4;
    }
  }
  report("done " + std::to_string(received) + " " + std::to_string(gaps));
  return 0;
}

// args: name k last. Opens as producer, reports "start <next_sequence()>", sends messages of varying size and
// reports "progress" after k of them; killed there, except the last one, which sends 100 and a final control one.
SHMRING_CHILD(message_restartable_producer) {
  shmring_test::die_with_parent();
  auto p = message_producer::open(args.at(0));
  const std::uint64_t k = std::stoull(args.at(1));
  const bool last = args.at(2) == "1";
  report("start " + std::to_string(p.next_sequence()));
  if (k == 0) report("progress");
  for (std::uint64_t n = 1;; ++n) {
    const std::uint64_t seq = p.next_sequence();
    const bool final_one = last && n == 100;
    p.send(payload_of(seq, 12 + static_cast<std::size_t>(mix(seq) % 3000)), final_one ? message_type::control : message_type::data);
    if (n == k) report("progress");
    if (final_one) return 0;
  }
}

TEST_CASE("a message producer killed at random points: peer_dead, checked messages, and a restart continues",
          "[ipc][stress][liveness][message]") {
  constexpr int rounds = SHMRING_KILLS / 2;
  std::mt19937_64 rng(0x5eed0200u);
  segment_guard g("mkill");
  release_pipe rel;
  auto cons = rel.inherit([&] {
    return std::make_unique<child_process>("message_enduring_consumer",
                                           std::vector<std::string>{g.name(), std::to_string(rel.read_fd())}, true);
  });
  line_reader from_cons(cons->output_fd());
  REQUIRE(from_cons.expect() == "ready");
  std::uint64_t next = 0;  // the sequence the consumer expects next, as it reported at its last peer_dead
  for (int r = 0; r <= rounds; ++r) {
    const bool last = r == rounds;
    const std::uint64_t k = last ? 0 : rng() % 400;
    child_process prod("message_restartable_producer", {g.name(), std::to_string(k), last ? "1" : "0"}, true);
    line_reader from_prod(prod.output_fd());
    const auto start = words(from_prod.expect());
    REQUIRE(start.size() == 2);
    // Everything the dead producer completed was delivered; at most the one message it had begun (its sequence
    // number taken, its record not yet published) is skipped, never repeated.
    const std::uint64_t s = std::stoull(start[1]);
    CHECK((s == next || s == next + 1));
    if (r > 0) rel.release();
    if (last) {
      REQUIRE(prod.wait() == 0);
      break;
    }
    REQUIRE(from_prod.expect() == "progress");
    prod.kill_now();
    const auto dead = words(from_cons.expect());
    REQUIRE(dead.size() == 2);
    REQUIRE(dead[0] == "dead");
    CHECK(std::stoull(dead[1]) >= s + k);  // the k messages the producer reported were all received
    next = std::stoull(dead[1]);
  }
  const auto done = words(from_cons.expect());
  REQUIRE(cons->wait() == 0);
  REQUIRE(done.size() == 3);
  REQUIRE(done[0] == "done");
  CHECK(std::stoull(done[2]) <= static_cast<std::uint64_t>(rounds));  // at most one skipped sequence per kill
  std::printf("message producer killed %d times: %s messages received, %s sequence numbers skipped\n", rounds,
              done[1].c_str(), done[2].c_str());
}
