// Typed rings' two slot formats (layout 4): a turn word next to every element that fits a cache line with it,
// packed slots for the others and for every ring created with slots::packed. Single operations, in-place reads
// and batches mixed on both formats, the 2^64 wrap of the indices (and so of the turn values), turn words written
// by a hostile producer, and two threads (also under the tsan preset) with every sequence number checked.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "sanitizers.hpp"

#include <shmring/ring/typed_ring.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <thread>
#include <vector>

using shmring::heap_ring;
using shmring_test::mix;

namespace {
struct four {  // 4 bytes: turn word at +0, element at +8, 16-byte slots
  std::uint32_t v;
};
struct twenty_four {  // 24 bytes: 32-byte slots
  std::uint64_t seq, a, check;
};
struct alignas(16) forty_eight {  // 48 bytes aligned to 16: element at +16, one slot per line
  std::uint64_t seq, body[4], check;
};
struct sixty_four {  // a whole line: no room for a word, packed
  std::uint64_t seq, body[6], check;
};
struct hundred {  // 104 bytes: packed, slots straddle lines
  std::uint64_t seq, body[11], check;
};

static_assert(shmring::ring<four>::slot_stride == 16 && shmring::ring<std::uint64_t>::slot_stride == 16);
static_assert(shmring::ring<twenty_four>::slot_stride == 32);
static_assert(shmring::ring<forty_eight>::slot_stride == 64);
static_assert(shmring::ring<sixty_four>::slot_stride == 64 && shmring::ring<hundred>::slot_stride == 104);
static_assert(shmring::fixed_slot<48, 16>::offset() == 16 && shmring::fixed_slot<48, 16>::has_turn());
static_assert(!shmring::fixed_slot<64, 8>::has_turn() && shmring::fixed_slot<64, 8>::offset() == 0);
// Packed slots when the ring is created so (shmring::slots::packed): the element alone, back to back.
static_assert(shmring::ring<four, shmring::slots::packed>::slot_stride == 4 &&
              shmring::ring<std::uint64_t, shmring::slots::packed>::slot_stride == 8);
static_assert(!shmring::fixed_slot<48, 16, shmring::slots::packed>::has_turn() &&
              shmring::ring<forty_eight, shmring::slots::packed>::slot_stride == 48);

// An element with sequence number i (and a checksum of it) of each type, and the check of one.
template <class T>
T make(std::uint64_t i) {
  T v{};
  if constexpr (std::is_same_v<T, four>) {
    v.v = static_cast<std::uint32_t>(mix(i));
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    v = mix(i);
  } else {
    v.seq = i;
    v.check = mix(i);
  }
  return v;
}
template <class T>
bool is(const T& v, std::uint64_t i) {
  const T want = make<T>(i);
  return std::memcmp(&v, &want, sizeof(T)) == 0;
}
}  // namespace

// Runs body.template operator()<S>() for both slot formats a ring may be created with (shmring::slots).
template <class Body>
void for_both_formats(Body body) {
  body.template operator()<shmring::slots::turn>();
  body.template operator()<shmring::slots::packed>();
}

TEMPLATE_TEST_CASE("single pushes, pops, in-place reads and batches mix in order on both slot formats",
                   "[ring][turn]", four, std::uint64_t, twenty_four, forty_eight, sixty_four, hundred) {
  const std::uint64_t first = GENERATE(std::uint64_t{0}, std::uint64_t{12345},
                                       std::numeric_limits<std::uint64_t>::max() - 40);
  CAPTURE(first);
  for_both_formats([&]<shmring::slots S>() {
    heap_ring<TestType, S> r(16, first);
    std::uint64_t in = 0, out = 0;
    std::array<TestType, 7> buf{};
    for (int round = 0; round < 60; ++round) {
      // push: one by one, then a batch that wraps around the slots
      const int singles = round % 4;
      for (int k = 0; k < singles; ++k) REQUIRE(r.try_push(make<TestType>(in++)));
      const std::size_t want = static_cast<std::size_t>(round % 7) + 1;
      for (std::size_t k = 0; k < want; ++k) buf[k] = make<TestType>(in + k);
      const std::size_t pushed = r.try_push_n(std::span<const TestType>(buf.data(), want));
      REQUIRE(pushed == want);  // 3 + 7 < 16: always room after the pops below
      in += pushed;
      REQUIRE(r.size_approx() == in - out);
      // pop: in place, by copy, then the rest in a batch
      const TestType* f = r.front();
      REQUIRE(f != nullptr);
      REQUIRE(is(*f, out));
      REQUIRE(r.front() == f);  // front() again is the same slot
      REQUIRE(r.pop_front());
      ++out;
      if (in - out > 1) {
        auto v = r.try_pop();
        REQUIRE(v.has_value());
        REQUIRE(is(*v, out++));
      }
      while (out != in) {
        const std::size_t n = r.try_pop_n(std::span<TestType>(buf.data(), buf.size()));
        REQUIRE(n != 0);
        for (std::size_t k = 0; k < n; ++k) REQUIRE(is(buf[k], out++));
      }
      REQUIRE(r.front() == nullptr);
      REQUIRE_FALSE(r.pop_front());
      REQUIRE_FALSE(r.try_pop().has_value());
    }
    CHECK(r.producer_index() == first + in);
    CHECK(r.consumer_index() == first + in);
    CHECK_FALSE(r.consumer_corrupted());
  });
}

TEMPLATE_TEST_CASE("a full ring of either format refuses, and empties in order across 2^64", "[ring][turn][wrap]",
                   four, forty_eight, sixty_four) {
  for_both_formats([]<shmring::slots S>() {
    heap_ring<TestType, S> r(8, std::numeric_limits<std::uint64_t>::max() - 3);
    for (std::uint64_t lap = 0; lap < 4; ++lap) {
      for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(r.try_push(make<TestType>(lap * 8 + i)));
      REQUIRE_FALSE(r.try_push(make<TestType>(999)));
      for (std::uint64_t i = 0; i < 8; ++i) {
        auto v = r.try_pop();
        REQUIRE(v.has_value());
        REQUIRE(is(*v, lap * 8 + i));
      }
      REQUIRE_FALSE(r.try_pop().has_value());
    }
  });
}

// ---- Turn words written by a hostile producer ------------------------------------------------------------------

namespace {
constexpr std::uint64_t cap = 8;
using hostile_ring = shmring::ring<std::uint64_t>;
constexpr std::size_t stride = hostile_ring::slot_stride;

// Polls an empty ring until the consumer has read head (turn_only_polls polls look at the turn only); true if
// every poll was empty.
bool empty_until_head_read(hostile_ring& r) {
  bool empty = true;
  for (std::uint32_t k = 0; k <= hostile_ring::turn_only_polls; ++k) empty = empty && r.front() == nullptr;
  return empty;
}

// The ring's memory laid out by hand, so the test can write what a hostile producer would.
struct raw_ring {
  alignas(64) std::atomic<std::uint64_t> head;
  alignas(64) std::atomic<std::uint64_t> tail;
  alignas(64) std::array<std::byte, cap * stride> slots{};
  std::uint64_t init;
  explicit raw_ring(std::uint64_t first) : head(first), tail(first), init(first) {}
  shmring::ring_memory<std::uint64_t> memory() { return {&head, &tail, slots.data(), cap, init}; }
  std::atomic<std::uint64_t>& turn(std::uint64_t index) {
    return *reinterpret_cast<std::atomic<std::uint64_t>*>(slots.data() + (index & (cap - 1)) * stride);
  }
  void element(std::uint64_t index, std::uint64_t v) {
    std::memcpy(slots.data() + (index & (cap - 1)) * stride + 8, &v, 8);
  }
  // What an honest producer writes for index: the element, then (after head) the turn.
  void publish_turn(std::uint64_t index) {
    element(index, mix(index));
    turn(index).store(index - init + 1, std::memory_order_release);
  }
};
}  // namespace

TEST_CASE("a consumer accepts a slot only by the exact turn of its own next index", "[ring][turn][corruption]") {
  const std::uint64_t first = GENERATE(std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max() - 2);
  CAPTURE(first);
  raw_ring m(first);
  hostile_ring r(m.memory());
  // Turns that are not exactly (t - initial) + 1: zero, the older lap, the next lap, off by one, all ones.
  for (const std::uint64_t bad : {std::uint64_t{0}, std::uint64_t{1} - cap, std::uint64_t{1} + cap, std::uint64_t{2},
                                  ~std::uint64_t{0}}) {
    m.turn(first).store(bad);
    CHECK(r.front() == nullptr);
    CHECK_FALSE(r.consumer_poll());
  }
  CHECK_FALSE(r.consumer_corrupted());
  CHECK(r.consumer_index() == first);
  // The right turns with head behind them: the slots are delivered once each, on the producer's word; then the
  // turns stop, head (still `first`) is read and found behind our tail: corrupted.
  m.publish_turn(first);
  m.publish_turn(first + 1);
  REQUIRE(r.try_pop() == mix(first));
  REQUIRE(r.try_pop() == mix(first + 1));
  CHECK(r.consumer_index() == first + 2);
  CHECK(empty_until_head_read(r));
  CHECK(r.consumer_corrupted());
  // Corrupted is final: a matching turn is not believed either.
  m.publish_turn(first + 2);
  CHECK_FALSE(r.try_pop().has_value());
  CHECK_FALSE(r.consumer_poll());
  std::array<std::uint64_t, 4> out{};
  CHECK(r.try_pop_n(out) == 0);
}

TEST_CASE("turns running a whole lap ahead of head deliver each index once and end corrupted",
          "[ring][turn][corruption]") {
  raw_ring m(100);
  hostile_ring r(m.memory());
  // A producer that never stores head but writes correct turns for far more than the capacity: the consumer
  // takes them one at a time (each slot index masked, each turn compared with its own private index), so it
  // reads only inside the slots and never an index twice, and it stops as soon as a turn is missing.
  std::uint64_t delivered = 0;
  for (std::uint64_t i = 100; i < 100 + 3 * cap; ++i) {
    m.publish_turn(i);
    auto v = r.try_pop();
    REQUIRE(v.has_value());
    REQUIRE(*v == mix(i));
    ++delivered;
  }
  CHECK(delivered == 3 * cap);
  CHECK(empty_until_head_read(r));  // no turn: head is read at last, 24 behind the tail
  CHECK(r.consumer_corrupted());
}

TEST_CASE("empty polls read head only after turn_only_polls of them, and then find what head says",
          "[ring][turn]") {
  raw_ring m(50);
  hostile_ring r(m.memory());
  // Adoption: the first empty poll reads head (a head stored without its turn, as by a producer that died
  // between the two stores, is found at once).
  m.element(50, mix(50));
  m.head.store(51, std::memory_order_release);
  REQUIRE(r.try_pop() == mix(50));
  // After an element the next turn_only_polls empty polls look at the turn only: head's line stays the producer's.
  m.element(51, mix(51));
  m.head.store(52, std::memory_order_release);  // no turn for 51
  for (std::uint32_t k = 0; k < hostile_ring::turn_only_polls; ++k) {
    if (k % 2 == 0)
      REQUIRE(r.front() == nullptr);
    else
      REQUIRE_FALSE(r.consumer_poll());
  }
  // ... and the next one reads head: the element is delivered, nothing is lost.
  REQUIRE(r.try_pop() == mix(51));
  // A turn found resets the count: the very next poll finds the next turn without head.
  m.publish_turn(52);
  REQUIRE(r.try_pop() == mix(52));
  CHECK_FALSE(r.consumer_corrupted());  // tail 53 is one past head 52 until a head read: the producer's lie
}

TEST_CASE("a batch pop trusts head, not the turns", "[ring][turn][corruption]") {
  raw_ring m(0);
  hostile_ring r(m.memory());
  for (std::uint64_t i = 0; i < 4; ++i) m.publish_turn(i);  // turns for 4 slots, head still 0
  std::array<std::uint64_t, 4> out{};
  CHECK(r.try_pop_n(out) == 0);  // head says empty
  CHECK_FALSE(r.consumer_corrupted());
  m.head.store(2, std::memory_order_release);
  REQUIRE(r.try_pop_n(out) == 2);
  CHECK(out[0] == mix(0));
  CHECK(out[1] == mix(1));
  m.head.store(2 + cap + 1, std::memory_order_release);  // more than capacity ahead
  CHECK(r.try_pop_n(out) == 0);
  CHECK(r.consumer_corrupted());
}

TEST_CASE("a head behind a turn the consumer accepted marks it corrupted", "[ring][turn][corruption]") {
  raw_ring m(0);
  hostile_ring r(m.memory());
  m.publish_turn(0);  // a turn without head: the poll believes it ...
  REQUIRE(r.consumer_poll());
  std::array<std::uint64_t, 4> out{};
  // ... and the batch pop, which reads head, finds head behind it: a lie, not an empty ring to poll forever.
  CHECK(r.try_pop_n(out) == 0);
  CHECK(r.consumer_corrupted());
  CHECK_FALSE(r.consumer_poll());
}

TEST_CASE("a producer stores head before the turns and leaves the other slots' words alone", "[ring][turn]") {
  raw_ring m(7);
  hostile_ring r(m.memory());
  REQUIRE(r.try_push(mix(7)));
  CHECK(m.head.load() == 8);
  CHECK(m.turn(7).load() == 1);
  const std::array<std::uint64_t, 3> in{mix(8), mix(9), mix(10)};
  REQUIRE(r.try_push_n(in) == 3);
  CHECK(m.head.load() == 11);
  for (std::uint64_t i = 8; i < 11; ++i) CHECK(m.turn(i).load() == i - 7 + 1);
  for (std::uint64_t i = 11; i < 15; ++i) CHECK(m.turn(i).load() == 0);  // never written
  // A consumer that takes the first by its turn may have tail one past it: still <= head.
  REQUIRE(r.try_pop() == mix(7));
  CHECK(m.tail.load() == 8);
}

// ---- Two threads (ThreadSanitizer checks the pairing of the turn stores and loads) ------------------------------

namespace {
constexpr std::uint64_t count = shmring_test::scaled(1'000'000, 100'000);

template <class T>
std::uint64_t two_threads(std::uint64_t first) {
  heap_ring<T> r(32, first);
  std::thread producer_thread([&] {
    std::array<T, 5> buf{};
    for (std::uint64_t i = 0; i < count;) {
      if (i % 11 < 6) {  // singles
        while (!r.try_push(make<T>(i))) std::this_thread::yield();
        ++i;
        continue;
      }
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), count - i));
      for (std::size_t j = 0; j < k; ++j) buf[j] = make<T>(i + j);
      std::span<const T> rest(buf.data(), k);
      while (!rest.empty()) {
        rest = rest.subspan(r.try_push_n(rest));
        if (!rest.empty()) std::this_thread::yield();
      }
      i += k;
    }
  });
  std::uint64_t bad = 0;
  std::array<T, 3> out{};
  for (std::uint64_t i = 0; i < count;) {
    switch (i % 3) {
      case 0:
        if (const T* f = r.front()) {
          bad += is(*f, i) ? 0 : 1;
          bad += r.pop_front() ? 0 : 1;
          ++i;
          continue;
        }
        break;
      case 1:
        if (auto v = r.try_pop()) {
          bad += is(*v, i++) ? 0 : 1;
          continue;
        }
        break;
      default:
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), count - i));
        if (const std::size_t n = r.try_pop_n(std::span<T>(out.data(), want))) {
          for (std::size_t k = 0; k < n; ++k) bad += is(out[k], i++) ? 0 : 1;
          continue;
        }
        break;
    }
    std::this_thread::yield();
  }
  producer_thread.join();
  bad += r.try_pop().has_value() ? 1 : 0;
  bad += r.consumer_corrupted() || r.producer_corrupted() ? 1 : 0;
  return bad;
}
}  // namespace

TEMPLATE_TEST_CASE("two threads mixing singles, batches and in-place reads: every element once, in order",
                   "[stress][turn]", std::uint64_t, forty_eight, sixty_four) {
  const std::uint64_t first = GENERATE(std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max() - count / 2);
  CAPTURE(first);
  CHECK(two_threads<TestType>(first) == 0);
}
