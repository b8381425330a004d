// A hostile peer on a MESSAGE ring, across processes (the message tests cover corrupt records written by hand in
// one process; this is the live variant of tests/hardening/hostile_peer_test.cpp). A real second process attaches
// legitimately, exchanges honest messages of varying lengths, and then, while the victim waits, writes garbage
// into its own byte index through a raw mapping: backwards, past the capacity, flipping constantly between
// valid-looking (8-aligned, in range: they expose stale bytes as records) and impossible values, or random bytes
// scribbled over the whole header and data area (record lengths and types included).
// The victim (a consumer blocked in receive(), or a producer blocked in send() on a full ring) gets
// errc::corrupted from that waiting call; every honest message before the attack is checked; nothing is read
// outside the segment (run under the asan preset too). Afterwards it stays corrupted.
#include <catch2/catch.hpp>

#include "await.hpp"
#include "errors.hpp"
#include "hostile.hpp"
#include "options.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "segment_guard.hpp"

#include <shmring/message.hpp>
#include <shmring/shmring.hpp>

#include <random>
#include <string>
#include <thread>

using namespace shmring;
using namespace shmring_test;

namespace {
constexpr std::uint64_t capacity = 4096;  // bytes
constexpr std::uint64_t honest = 500;

std::string honest_text(std::uint64_t i) { return std::string(i % 300, static_cast<char>('a' + i % 26)) + "#" + std::to_string(i); }

options opts() { return with_timeouts(std::chrono::seconds(5), std::chrono::milliseconds(2)); }

}  // namespace

// args: name attack. Attaches as producer, sends the honest messages, waits until all were received, attacks head.
SHMRING_CHILD(hostile_message_producer) {
  auto p = message_producer::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < honest; ++i) p.send_string(honest_text(i));
  raw_map m(args.at(0));
  auto& h = m.h();
  const std::uint64_t end = h.head.value.load();
  await([&] { return h.tail.value.load(std::memory_order_acquire) == end; });
  run_attack(static_cast<attack>(std::stoi(args.at(1))), m, h.head.value, h.tail.value, true, capacity, 8, 0xbad);
}

// args: name attack. Attaches as consumer, receives and checks the honest messages, waits until the victim is
// stuck for room, attacks tail. Exits 3 on a wrong message.
SHMRING_CHILD(hostile_message_consumer) {
  auto c = message_consumer::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < honest; ++i)
    if (c.receive_string() != honest_text(i)) return 3;
  raw_map m(args.at(0));
  auto& h = m.h();
  // The victim is stuck for room once it found the ring full after our last receive, or is asleep waiting for
  // room (it may have found it full before we read the counter, and then it sleeps until we act).
  const std::uint64_t stalls = h.producer_stats.stalls.load();
  await([&] { return h.producer_stats.stalls.load() > stalls || h.producer_wait.sleeping.load() != 0; });
  run_attack(static_cast<attack>(std::stoi(args.at(1))), m, h.tail.value, h.head.value, false, capacity, 8, 0xbad);
}

TEST_CASE("a message consumer waiting on a ring whose producer turns hostile gets corrupted",
          "[hardening][corruption][message]") {
  const auto a = static_cast<attack>(GENERATE(0, 1, 2, 3));
  CAPTURE(attack_name(a));
  segment_guard g("hostile-msg-prod");
  auto c = message_consumer::create(g.name(), capacity, opts());
  child_process hostile("hostile_message_producer", {g.name(), std::to_string(static_cast<int>(a))});
  for (std::uint64_t i = 0; i < honest; ++i) REQUIRE(c.receive_string() == honest_text(i));
  std::uint64_t garbage = 0;
  const errc e = code_of([&] {
    for (;; ++garbage) (void)c.receive();
  });
  CAPTURE(garbage);
  CHECK(e == errc::corrupted);
  CHECK(c.corrupted());
  hostile.kill_now();
  CHECK_FALSE(c.try_receive().has_value());
  CHECK(code_of([&] { (void)c.receive(); }) == errc::corrupted);
}

TEST_CASE("a message producer waiting on a ring whose consumer turns hostile gets corrupted",
          "[hardening][corruption][message]") {
  const auto a = static_cast<attack>(GENERATE(0, 1, 2, 3));
  CAPTURE(attack_name(a));
  segment_guard g("hostile-msg-cons");
  auto p = message_producer::create(g.name(), capacity, opts());
  child_process hostile("hostile_message_consumer", {g.name(), std::to_string(static_cast<int>(a))});
  for (std::uint64_t i = 0; i < honest; ++i) p.send_string(honest_text(i));
  std::uint64_t sent_after = 0;
  const errc e = code_of([&] {
    for (;; ++sent_after) p.send_string(honest_text(sent_after));
  });
  CAPTURE(sent_after);
  CHECK(e == errc::corrupted);
  CHECK(p.corrupted());
  hostile.kill_now();
  CHECK_FALSE(p.try_send(text_bytes("after")));
  CHECK(code_of([&] { p.send_string("after"); }) == errc::corrupted);
}
