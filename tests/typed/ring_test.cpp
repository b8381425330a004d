// The ring algorithm on heap memory: edges, wrap-around, batches, in-place reads, 2^64 wrap, hostile indices.
#include <catch2/catch.hpp>

#include <shmring/ring/typed_ring.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

using shmring::heap_ring;

namespace {
struct big {
  std::uint64_t seq;
  std::uint64_t body[6];
  std::uint64_t check;
};
static_assert(sizeof(big) == 64);

// Compile-time contract: the hot path is noexcept; non-trivially-copyable types are refused.
using ring64 = shmring::ring<std::uint64_t>;
static_assert(noexcept(std::declval<ring64&>().try_push(std::uint64_t{})));
static_assert(noexcept(std::declval<ring64&>().try_pop()));
static_assert(noexcept(std::declval<ring64&>().try_pop(std::declval<std::uint64_t&>())));
static_assert(noexcept(std::declval<ring64&>().front()));
static_assert(noexcept(std::declval<ring64&>().pop_front()));
static_assert(noexcept(std::declval<ring64&>().try_push_n(std::span<const std::uint64_t>{})));
static_assert(noexcept(std::declval<ring64&>().try_pop_n(std::span<std::uint64_t>{})));
static_assert(noexcept(std::declval<ring64&>().size_approx()));
static_assert(shmring::element<big>);
static_assert(!shmring::element<std::string>);
static_assert(!shmring::element<const int>);
}  // namespace

TEST_CASE("pop on an empty ring returns nothing", "[ring]") {
  heap_ring<std::uint64_t> r(8);
  CHECK_FALSE(r.try_pop().has_value());
  std::uint64_t v = 7;
  CHECK_FALSE(r.try_pop(v));
  CHECK(v == 7);
  CHECK(r.front() == nullptr);
  CHECK(r.empty());
  CHECK(r.size_approx() == 0);
}

TEST_CASE("a ring holds exactly capacity elements, then refuses", "[ring]") {
  heap_ring<std::uint64_t> r(8);
  REQUIRE(r.capacity() == 8);
  for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(r.try_push(i));
  CHECK(r.size_approx() == 8);
  CHECK_FALSE(r.try_push(99));
  CHECK(r.size_approx() == 8);
  for (std::uint64_t i = 0; i < 8; ++i) {
    auto v = r.try_pop();
    REQUIRE(v.has_value());
    CHECK(*v == i);
  }
  CHECK_FALSE(r.try_pop().has_value());
  CHECK(r.try_push(100));  // room again after draining
}

TEST_CASE("a capacity that is not a power of two is rounded up by heap_ring", "[ring]") {
  heap_ring<std::uint32_t> r(5);
  CHECK(r.capacity() == 8);
  heap_ring<std::uint32_t> one(1);
  CHECK(one.capacity() == 1);
  CHECK(one.try_push(1u));
  CHECK_FALSE(one.try_push(2u));
  CHECK(one.try_pop() == 1u);
}

TEST_CASE("elements come out in order across many wrap-arounds", "[ring]") {
  heap_ring<std::uint64_t> r(4);
  std::uint64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    const int k = 1 + round % 4;  // 1..4 in flight, every offset of the wrap point
    for (int i = 0; i < k; ++i) REQUIRE(r.try_push(next_in++));
    for (int i = 0; i < k; ++i) {
      auto v = r.try_pop();
      REQUIRE(v.has_value());
      REQUIRE(*v == next_out++);
    }
  }
  CHECK(next_out == next_in);
}

TEST_CASE("front reads in place and pop frees the slot", "[ring]") {
  heap_ring<big> r(2);
  big b{};
  b.seq = 42;
  b.check = 4242;
  REQUIRE(r.try_push(b));
  const big* p = r.front();
  REQUIRE(p != nullptr);
  CHECK(p->seq == 42);
  CHECK(p->check == 4242);
  CHECK(r.front() == p);  // front twice is the same element
  CHECK(r.pop_front());
  CHECK(r.front() == nullptr);
  CHECK_FALSE(r.pop_front());  // an empty ring frees nothing
}

TEST_CASE("try_emplace constructs in the slot", "[ring]") {
  struct point {
    int x, y;
    point(int a, int b) noexcept : x(a), y(b) {}
  };
  heap_ring<point> r(2);
  REQUIRE(r.try_emplace(1, 2));
  REQUIRE(r.try_emplace(3, 4));
  CHECK_FALSE(r.try_emplace(5, 6));
  const point* p = r.front();
  REQUIRE(p != nullptr);
  CHECK((p->x == 1 && p->y == 2));
}

TEST_CASE("batch push takes what fits and publishes it", "[ring][batch]") {
  heap_ring<std::uint64_t> r(8);
  std::vector<std::uint64_t> in(12);
  std::iota(in.begin(), in.end(), 0);
  CHECK(r.try_push_n(std::span<const std::uint64_t>(in.data(), 0)) == 0);  // empty batch
  CHECK(r.try_push_n(in) == 8);  // only capacity fits
  CHECK(r.try_push_n(in) == 0);  // full
  std::array<std::uint64_t, 3> out{};
  CHECK(r.try_pop_n(std::span<std::uint64_t>(out.data(), 0)) == 0);  // empty span
  CHECK(r.try_pop_n(out) == 3);
  CHECK(out == std::array<std::uint64_t, 3>{0, 1, 2});
  // 3 free slots now, crossing the end of the buffer: 5,6,7 are in slots 5..7 and the next go to 0..2.
  CHECK(r.try_push_n(std::span<const std::uint64_t>(in).subspan(8)) == 3);
  std::array<std::uint64_t, 16> rest{};
  CHECK(r.try_pop_n(rest) == 8);
  const std::array<std::uint64_t, 8> want{3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(std::equal(want.begin(), want.end(), rest.begin()));
  CHECK(r.try_pop_n(rest) == 0);
}

TEST_CASE("batches of every size at every wrap offset keep order", "[ring][batch]") {
  for (std::uint64_t cap : {1u, 2u, 4u, 8u}) {
    heap_ring<std::uint32_t> r(cap);
    std::uint32_t next_in = 0, next_out = 0;
    for (int round = 0; round < 200; ++round) {
      std::vector<std::uint32_t> in(1 + round % (cap + 2));
      for (auto& v : in) v = next_in + static_cast<std::uint32_t>(&v - in.data());
      const std::size_t pushed = r.try_push_n(in);
      REQUIRE(pushed == std::min<std::size_t>(in.size(), cap));
      next_in += static_cast<std::uint32_t>(pushed);
      std::vector<std::uint32_t> out(1 + round % 3);
      std::size_t got;
      while ((got = r.try_pop_n(out)) != 0)
        for (std::size_t i = 0; i < got; ++i) REQUIRE(out[i] == next_out++);
    }
    CHECK(next_out == next_in);
  }
}

TEST_CASE("large batches (the consumer's own copy loop) keep order across the wrap", "[ring][batch]") {
  // pop_n copies 2 KiB and more with detail::copy_from_peer: batches of 8-byte and 64-byte elements from below that
  // to the whole ring, split at the end of the buffer at every offset a batch of that size can leave.
  heap_ring<std::uint64_t> r(1024);  // 8 KiB of slots
  std::uint64_t next_in = 0, next_out = 0;
  for (const std::size_t batch : {255u, 256u, 257u, 700u, 1023u, 1024u}) {
    std::vector<std::uint64_t> in(batch), out(batch);
    for (int round = 0; round < 40; ++round) {
      for (auto& v : in) v = next_in++ * 0x9e3779b97f4a7c15ull;
      REQUIRE(r.try_push_n(in) == batch);
      REQUIRE(r.try_pop_n(out) == batch);
      for (const std::uint64_t v : out) REQUIRE(v == next_out++ * 0x9e3779b97f4a7c15ull);
    }
  }
  heap_ring<big> rb(64);  // 4 KiB of slots
  std::uint64_t seq = 0, expect = 0;
  std::vector<big> in(45), out(45);  // 2880 bytes: over the copy loop's threshold
  for (int round = 0; round < 64; ++round) {
    for (auto& b : in) {
      b.seq = seq;
      for (std::uint64_t k = 0; k < 6; ++k) b.body[k] = seq * 7 + k;
      b.check = ~seq++;
    }
    REQUIRE(rb.try_push_n(in) == in.size());
    REQUIRE(rb.try_pop_n(out) == out.size());
    for (const big& b : out) {
      REQUIRE(b.seq == expect);
      for (std::uint64_t k = 0; k < 6; ++k) REQUIRE(b.body[k] == expect * 7 + k);
      REQUIRE(b.check == ~expect++);
    }
  }
}

TEST_CASE("indices starting near 2^64 survive the wrap of the counter", "[ring][wrap]") {
  const std::uint64_t start = std::numeric_limits<std::uint64_t>::max() - 5;
  heap_ring<std::uint64_t> r(4, start);
  std::uint64_t in = 0, out = 0;
  for (int i = 0; i < 40; ++i) {
    REQUIRE(r.try_push(in++));
    REQUIRE(r.try_push(in++));
    CHECK(r.size_approx() == 2);
    REQUIRE(r.try_pop() == out++);
    REQUIRE(r.try_pop() == out++);
    CHECK(r.size_approx() == 0);
  }
  CHECK(r.producer_index() == start + 80);  // wrapped past 2^64
  CHECK(r.producer_index() < start);
  // Fill completely across the wrap: full and empty are still told apart.
  heap_ring<std::uint64_t> f(4, std::numeric_limits<std::uint64_t>::max() - 1);
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(f.try_push(i));
  CHECK_FALSE(f.try_push(9));
  CHECK(f.size_approx() == 4);
  std::array<std::uint64_t, 4> all{};
  CHECK(f.try_pop_n(all) == 4);
  CHECK(all == std::array<std::uint64_t, 4>{0, 1, 2, 3});
}

// ---- A hostile peer: indices written straight into the shared words ----------------------------------------

namespace {
struct raw_ring {
  alignas(64) std::atomic<std::uint64_t> head{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};
  alignas(64) std::array<std::byte, 8 * shmring::ring<std::uint64_t>::slot_stride> slots{};  // zero: empty
  shmring::ring_memory<std::uint64_t> memory() { return {&head, &tail, slots.data(), 8, 0}; }
};
}  // namespace

TEST_CASE("a head more than capacity ahead marks the consumer corrupted", "[ring][corruption]") {
  raw_ring m;
  shmring::ring<std::uint64_t> r(m.memory());
  m.head.store(9);  // 9 elements claimed in an 8-slot ring
  CHECK(r.front() == nullptr);
  CHECK(r.consumer_corrupted());
  CHECK_FALSE(r.try_pop().has_value());
  std::array<std::uint64_t, 4> out{};
  CHECK(r.try_pop_n(out) == 0);
  m.head.store(1);  // even a plausible value later is not trusted again
  CHECK_FALSE(r.try_pop().has_value());
  CHECK_FALSE(r.consumer_poll());
}

TEST_CASE("a head that moves backwards marks the consumer corrupted", "[ring][corruption]") {
  raw_ring m;
  shmring::ring<std::uint64_t> r(m.memory());
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(r.try_push(i));
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(r.try_pop() == i);
  m.head.store(2);  // behind the consumer's tail (4)
  // Turn slots: the empty polls right after a pop look at the next turn only (turn_only_polls), then at head.
  for (std::uint32_t k = 0; k <= shmring::ring<std::uint64_t>::turn_only_polls; ++k)
    CHECK_FALSE(r.try_pop().has_value());
  CHECK(r.consumer_corrupted());
}

TEST_CASE("a tail ahead of head or too far behind marks the producer corrupted", "[ring][corruption]") {
  raw_ring m;
  shmring::ring<std::uint64_t> r(m.memory());
  for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(r.try_push(i));
  m.tail.store(100);  // the consumer claims to have read elements never written
  CHECK_FALSE(r.try_push(8));
  CHECK(r.producer_corrupted());
  raw_ring m2;
  m2.head.store(20);
  m2.tail.store(12);
  shmring::ring<std::uint64_t> r2(m2.memory());
  REQUIRE_FALSE(r2.producer_corrupted());
  m2.tail.store(3);  // more than capacity behind head
  std::vector<std::uint64_t> in(4, 1);
  CHECK(r2.try_push_n(in) == 0);
  CHECK(r2.producer_corrupted());
}

TEST_CASE("indices that are inconsistent at adoption mark both sides corrupted", "[ring][corruption]") {
  raw_ring m;
  m.head.store(100);
  m.tail.store(0);
  shmring::ring<std::uint64_t> r(m.memory());
  CHECK(r.producer_corrupted());
  CHECK(r.consumer_corrupted());
  CHECK_FALSE(r.try_push(1));
  CHECK_FALSE(r.try_pop().has_value());
  CHECK(shmring::ring<std::uint64_t>::is_consistent(10, 2, 8));
  CHECK_FALSE(shmring::ring<std::uint64_t>::is_consistent(11, 2, 8));
  CHECK_FALSE(shmring::ring<std::uint64_t>::is_consistent(1, 2, 8));
}

TEST_CASE("size_approx never reports more than capacity or less than zero", "[ring]") {
  raw_ring m;
  shmring::ring<std::uint64_t> r(m.memory());
  m.head.store(50);
  CHECK(r.size_approx() == 8);
  m.head.store(0);
  m.tail.store(5);
  CHECK(r.size_approx() == 0);
}
