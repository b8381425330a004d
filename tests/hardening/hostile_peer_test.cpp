// A hostile peer. A real second process attaches legitimately (so it is alive and the victim never sees
// peer_dead), moves real data, and then, while the victim waits on the ring, writes garbage into its own index
// through a raw mapping of the segment: the index moved backwards, jumped past the capacity, flipping constantly
// between valid and invalid values, or random bytes scribbled over the whole header and data area.
// The victim (this process: a consumer blocked in pop()/pop_n(), or a producer blocked in push()/push_n() on a
// full ring) gets errc::corrupted from that waiting call, every value it received before the attack is checked,
// and it never touches memory outside the segment (this test runs under the asan preset too: no report, no
// crash). Once corrupted the victim stays corrupted: its try_* calls fail and its waiting calls throw
// errc::corrupted again, even after the hostile process is gone and the indices look sane again.
// Layout 4's turn words too: a hostile producer that leaves head alone and writes the slots' turn words (the exact
// value the victim's next index expects, values of other laps, random ones), so the victim delivers slots head
// never covered; it reads only inside the slots, counts every index once, and ends corrupted.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "await.hpp"
#include "errors.hpp"
#include "hostile.hpp"
#include "options.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <array>
#include <csignal>
#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace shmring;
using namespace shmring_test;

namespace {
constexpr std::uint64_t capacity = 64;
constexpr std::uint64_t honest = 1000;  // values the hostile peer moves honestly before it turns

// the sleeping victim re-reads indices often
options opts() { return with_timeouts(std::chrono::seconds(5), std::chrono::milliseconds(2)); }

}  // namespace

// args: name attack. Attaches as producer, pushes mix(0..honest-1), waits until the victim consumed all of them
// (and is thus waiting on an empty ring), then attacks its head index.
SHMRING_CHILD(hostile_producer) {
  auto p = producer<std::uint64_t>::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < honest; ++i) p.push(mix(i));
  raw_map m(args.at(0));
  auto& h = m.h();
  const std::uint64_t end = h.control.initial_index + honest;
  await([&] { return h.tail.value.load(std::memory_order_acquire) == end; });
  run_attack(static_cast<attack>(std::stoi(args.at(1))), m, h.head.value, h.tail.value, true, capacity, 1, 0x5eed);
}

// args: name attack. Attaches as consumer, pops and checks honest values, waits until the victim filled the ring
// (and is thus waiting for room), then attacks its tail index. Exits 3 if a value was wrong.
SHMRING_CHILD(hostile_consumer) {
  auto c = consumer<std::uint64_t>::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < honest; ++i)
    if (c.pop() != mix(i)) return 3;
  raw_map m(args.at(0));
  auto& h = m.h();
  await([&] {
    return h.head.value.load(std::memory_order_acquire) - h.tail.value.load(std::memory_order_acquire) == capacity;
  });
  run_attack(static_cast<attack>(std::stoi(args.at(1))), m, h.tail.value, h.head.value, false, capacity, 1, 0x5eed);
}

TEST_CASE("a consumer waiting on a ring whose producer turns hostile gets corrupted", "[hardening][corruption]") {
  const auto a = static_cast<attack>(GENERATE(0, 1, 2, 3));
  const bool batch = GENERATE(false, true);
  CAPTURE(attack_name(a), batch);
  segment_guard g("hostile-prod");
  auto c = consumer<std::uint64_t>::create(g.name(), capacity, opts());
  child_process hostile("hostile_producer", {g.name(), std::to_string(static_cast<int>(a))});
  for (std::uint64_t i = 0; i < honest; ++i) REQUIRE(c.pop() == mix(i));  // the honest part, every value checked
  // Now wait: the next thing the producer does is attack. Values that a valid-looking flip exposes are popped
  // (they are bytes inside the ring, garbage but in bounds); the wait must end in errc::corrupted.
  std::uint64_t garbage = 0;
  const errc e = code_of([&] {
    std::array<std::uint64_t, 7> buf{};
    for (;; ++garbage) {
      if (batch)
        (void)c.pop_n(buf);
      else
        (void)c.pop();
    }
  });
  CAPTURE(garbage);
  CHECK(e == errc::corrupted);
  CHECK(c.corrupted());
  hostile.kill_now();
  // Pinned: even with sane indices again, the victim never reads the ring again.
  raw_map m(g.name());
  m.h().head.value.store(m.h().tail.value.load() + 1);
  CHECK_FALSE(c.try_pop().has_value());
  CHECK(c.front() == nullptr);
  CHECK(code_of([&] { (void)c.pop(); }) == errc::corrupted);
  CHECK(code_of([&] { (void)c.pop_for(std::chrono::seconds(1)); }) == errc::corrupted);
}

// args: name. Attaches as producer, pushes mix(0..honest-1), waits until the victim consumed them, then writes
// turn words forever, never head: in rounds, a run of wrong ones (random values, the same index's other laps)
// over the slots, then the exact turns of the victim's next four indices.
SHMRING_CHILD(hostile_turns) {
  auto p = producer<std::uint64_t>::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < honest; ++i) p.push(mix(i));
  raw_map m(args.at(0));
  auto& h = m.h();
  const std::uint64_t init = h.control.initial_index, end = init + honest;
  std::uint64_t stride = 0, offset = 0;
  std::memcpy(&stride, &h.info.slot_stride, 4);
  offset = h.control.data_offset;
  await([&] { return h.tail.value.load(std::memory_order_acquire) == end; });
  auto turn = [&](std::uint64_t index) {
    return std::atomic_ref<std::uint64_t>(
        *reinterpret_cast<std::uint64_t*>(m.data() + offset + (index & (capacity - 1)) * stride));
  };
  std::mt19937_64 rng(0x7a11);
  for (;;) {
    // Wrong turns over every slot near the victim's index (random values, the same index's other laps), which
    // it must reject, then the exact turns of its next four indices, left in place until it has taken them.
    const std::uint64_t t = h.tail.value.load(std::memory_order_acquire);
    for (int round = 0; round < 20000; ++round) {
      const std::uint64_t i = t + rng() % (2 * capacity);
      const std::uint64_t wrong = rng() % 2 == 0 ? rng() : i - init + 1 + capacity * (1 + rng() % 3);
      turn(i).store(wrong == i - init + 1 ? wrong + 1 : wrong, std::memory_order_release);
    }
    for (std::uint64_t k = 0; k < 4; ++k) turn(t + k).store(t + k - init + 1, std::memory_order_release);
    await([&] { return h.tail.value.load(std::memory_order_acquire) != t; });
  }
}

TEST_CASE("a consumer on a ring whose producer writes turn words but not head ends corrupted",
          "[hardening][corruption][turn]") {
  const bool batch = GENERATE(false, true);
  CAPTURE(batch);
  segment_guard g("hostile-turns");
  auto c = consumer<std::uint64_t>::create(g.name(), capacity, opts());
  REQUIRE(c.status().element_size == 8);
  child_process hostile("hostile_turns", {g.name()});
  for (std::uint64_t i = 0; i < honest; ++i) REQUIRE(c.pop() == mix(i));
  std::uint64_t calls = 0;
  const errc e = code_of([&] {
    std::array<std::uint64_t, 3> buf{};
    for (;; ++calls) {
      if (batch)
        (void)c.pop_n(buf);
      else
        (void)c.pop();
    }
  });
  CAPTURE(calls);
  CHECK(e == errc::corrupted);
  CHECK(c.corrupted());
  // Every slot it took on a turn alone is one index, taken once: the count of what it popped grows by one each.
  CHECK(c.popped() >= honest);
  CHECK(c.popped() - honest <= calls * (batch ? 3 : 1));
  hostile.kill_now();
  CHECK_FALSE(c.try_pop().has_value());
  CHECK(code_of([&] { (void)c.pop(); }) == errc::corrupted);
}

// args: name. Pushes mix(0..honest-1) honestly, then publishes one more element as a producer that dies between
// its two stores would: the bytes and head, but no turn; then it dies (SIGKILL) without detaching.
SHMRING_CHILD(dies_between_head_and_turn) {
  auto p = producer<std::uint64_t>::open(args.at(0), opts());
  for (std::uint64_t i = 0; i < honest; ++i) p.push(mix(i));
  raw_map m(args.at(0));
  auto& h = m.h();
  std::uint32_t stride = 0, format = 0;
  std::memcpy(&stride, &h.info.slot_stride, 4);
  std::memcpy(&format, &h.info.slot_format, 4);
  if (format != 1 || stride != 16) return 2;  // the 8-byte element's turn slot, element at +8
  const std::uint64_t n = h.head.value.load(std::memory_order_relaxed), v = mix(honest);
  std::memcpy(m.data() + h.control.data_offset + (n & (capacity - 1)) * stride + 8, &v, 8);
  h.head.value.store(n + 1, std::memory_order_release);
  ::raise(SIGKILL);
  return 1;
}

TEST_CASE("an element whose producer died between its head and its turn store is still delivered",
          "[hardening][turn]") {
  const bool batch = GENERATE(false, true);
  CAPTURE(batch);
  segment_guard g("dies-mid-publish");
  // No spinning: the waits look at the turn alone for fewer polls than turn_only_polls, so the element is found
  // by the re-read of head after the producer's death (or, if it dies late, once the polls add up).
  options o = opts();
  o.wait.spin_iterations = 0;
  auto c = consumer<std::uint64_t>::create(g.name(), capacity, o);
  child_process p("dies_between_head_and_turn", {g.name()});
  std::uint64_t got = 0;
  const errc e = code_of([&] {
    std::array<std::uint64_t, 3> buf{};
    for (;;) {
      if (batch) {
        const std::size_t n = c.pop_n(buf);
        for (std::size_t k = 0; k < n; ++k) REQUIRE(buf[k] == mix(got++));
      } else {
        const std::uint64_t v = c.pop();
        REQUIRE(v == mix(got));
        ++got;
      }
    }
  });
  CHECK(e == errc::peer_dead);
  CHECK(got == honest + 1);  // every element, the last one by head alone
  CHECK(p.wait() == 128 + SIGKILL);
  CHECK_FALSE(c.corrupted());
}

TEST_CASE("a producer waiting on a ring whose consumer turns hostile gets corrupted", "[hardening][corruption]") {
  const auto a = static_cast<attack>(GENERATE(0, 1, 2, 3));
  const bool batch = GENERATE(false, true);
  CAPTURE(attack_name(a), batch);
  segment_guard g("hostile-cons");
  auto p = producer<std::uint64_t>::create(g.name(), capacity, opts());
  child_process hostile("hostile_consumer", {g.name(), std::to_string(static_cast<int>(a))});
  for (std::uint64_t i = 0; i < honest; ++i) p.push(mix(i));  // the consumer checks every one
  // Fill the ring; the consumer turns hostile once it is full, while we wait for room.
  std::uint64_t pushed_after = 0;
  const errc e = code_of([&] {
    const std::array<std::uint64_t, 5> buf{1, 2, 3, 4, 5};
    for (;; ++pushed_after) {
      if (batch)
        p.push_n(buf);
      else
        p.push(pushed_after);
    }
  });
  CAPTURE(pushed_after);
  CHECK(e == errc::corrupted);
  CHECK(p.corrupted());
  CHECK(pushed_after >= capacity / (batch ? 5 : 1) - 1);  // it filled the ring before the attack began
  hostile.kill_now();
  raw_map m(g.name());
  m.h().tail.value.store(m.h().head.value.load());  // an empty ring, as far as the indices go
  CHECK_FALSE(p.try_push(7));
  CHECK(code_of([&] { p.push(7); }) == errc::corrupted);
  CHECK(code_of([&] { (void)p.push_for(7, std::chrono::seconds(1)); }) == errc::corrupted);
}

TEST_CASE("an opener refuses a segment whose indices are already impossible", "[hardening][corruption]") {
  // The attach-time check, for the attacks above left in place by a hostile process that then exited.
  const int which = GENERATE(0, 1, 2);
  CAPTURE(which);
  segment_guard g("hostile-open");
  auto p = producer<std::uint64_t>::create(g.name(), capacity, opts());
  raw_map m(g.name());
  auto& h = m.h();
  if (which == 0) h.head.value.store(h.tail.value.load() - 1);             // head behind tail
  if (which == 1) h.head.value.store(h.tail.value.load() + capacity + 1);  // past the capacity
  if (which == 2) h.tail.value.store(h.head.value.load() + 1);             // tail ahead of head
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), opts()); }) == errc::corrupted);
}
