// Two real processes on one typed ring: 10 million 8-byte values and a stream of 64-byte structs, every sequence
// number checked and the producer's checksum compared with the consumer's; batches; the "producer exits before
// the consumer starts" flow; a consumer child and a producer parent.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "process.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {
constexpr std::uint64_t big_count = shmring_test::scaled(10'000'000, 1'000'000);

struct record64 {
  std::uint64_t seq;
  std::uint64_t body[6];
  std::uint64_t check;  // mix of seq and body: a torn or stale copy fails it
};
static_assert(sizeof(record64) == 64);

record64 make_record(std::uint64_t seq) {
  record64 r{};
  r.seq = seq;
  std::uint64_t c = mix(seq);
  for (auto& b : r.body) {
    b = mix(c);
    c ^= b;
  }
  r.check = c;
  return r;
}

bool record_ok(const record64& r, std::uint64_t seq) {
  const record64 want = make_record(seq);
  return std::memcmp(&r, &want, sizeof want) == 0;
}

std::uint64_t to_u64(const std::string& s) { return std::stoull(s); }

void print_checksum(std::uint64_t sum) {
  std::printf("%" PRIu64 "\n", sum);
  std::fflush(stdout);
}
}  // namespace

// args: name count batch(0|1). Opens the ring (created by the parent), pushes 0..count-1, prints its checksum.
SHMRING_CHILD(u64_producer) {
  auto p = producer<std::uint64_t>::open(args.at(0));
  const std::uint64_t n = to_u64(args.at(1));
  const bool batch = args.at(2) == "1";
  std::uint64_t sum = 0;
  if (!batch) {
    for (std::uint64_t i = 0; i < n; ++i) {
      p.push(i);
      sum = mix(sum ^ i);
    }
  } else {
    std::array<std::uint64_t, 37> buf{};  // an odd batch size so batches straddle the wrap point
    for (std::uint64_t i = 0; i < n;) {
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - i));
      for (std::size_t j = 0; j < k; ++j) {
        buf[j] = i + j;
        sum = mix(sum ^ (i + j));
      }
      p.push_n(std::span<const std::uint64_t>(buf.data(), k));
      i += k;
    }
  }
  print_checksum(sum);
  return 0;
}

// args: name count. Pushes count 64-byte records.
SHMRING_CHILD(record_producer) {
  auto p = producer<record64>::open(args.at(0));
  const std::uint64_t n = to_u64(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) p.push(make_record(i));
  return 0;
}

// args: name count. Creates nothing: pushes count values into an existing ring and exits without a consumer.
SHMRING_CHILD(fill_and_exit) {
  auto p = producer<std::uint64_t>::open(args.at(0));
  const std::uint64_t n = to_u64(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i)
    if (!p.try_push(mix(i))) return 3;
  return 0;
}

// args: name count. Opens as consumer, checks every value, exits 0 only if all were right.
SHMRING_CHILD(checking_consumer) {
  auto c = consumer<std::uint64_t>::open(args.at(0));
  const std::uint64_t n = to_u64(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i)
    if (c.pop() != mix(i)) return 4;
  return c.try_pop().has_value() ? 5 : 0;
}

TEST_CASE("ten million values cross between two processes in order, none lost or repeated", "[ipc]") {
  const bool batch = GENERATE(false, true);
  CAPTURE(batch);
  segment_guard g("u64");
  auto c = consumer<std::uint64_t>::create(g.name(), 4096);
  child_process prod("u64_producer", {g.name(), std::to_string(big_count), batch ? "1" : "0"}, true);
  std::uint64_t sum = 0, wrong = 0, first_wrong = ~std::uint64_t{0};
  if (!batch) {
    for (std::uint64_t i = 0; i < big_count; ++i) {
      const std::uint64_t v = c.pop();
      if (v != i && wrong++ == 0) first_wrong = i;
      sum = mix(sum ^ v);
    }
  } else {
    std::array<std::uint64_t, 64> buf{};
    for (std::uint64_t i = 0; i < big_count;) {
      const std::size_t k = c.pop_n(std::span<std::uint64_t>(buf.data(), std::min<std::uint64_t>(buf.size(), big_count - i)));
      for (std::size_t j = 0; j < k; ++j, ++i) {
        if (buf[j] != i && wrong++ == 0) first_wrong = i;
        sum = mix(sum ^ buf[j]);
      }
    }
  }
  const std::string out = prod.read_output();
  REQUIRE(prod.wait() == 0);
  CHECK(wrong == 0);
  CHECK(first_wrong == ~std::uint64_t{0});
  CHECK_FALSE(c.try_pop().has_value());  // nothing extra
  REQUIRE_FALSE(out.empty());
  CHECK(std::stoull(out) == sum);  // the producer's checksum equals the consumer's
  CHECK(c.popped() == big_count);
}

TEST_CASE("64-byte structs cross between two processes intact", "[ipc]") {
  segment_guard g("rec");
  auto c = consumer<record64>::create(g.name(), 1024);
  constexpr std::uint64_t n = big_count / 5;
  child_process prod("record_producer", {g.name(), std::to_string(n)});
  std::uint64_t bad = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    // Read in place every other element, copy the rest: both paths are checked.
    if (i % 2 == 0) {
      const record64 r = c.pop();
      bad += record_ok(r, i) ? 0 : 1;
    } else {
      const record64* p = nullptr;
      while ((p = c.front()) == nullptr) shmring::detail::cpu_relax();  // the producer is running: it arrives
      bad += record_ok(*p, i) ? 0 : 1;
      c.pop_front();
    }
  }
  REQUIRE(prod.wait() == 0);
  CHECK(bad == 0);
  CHECK_FALSE(c.try_pop().has_value());
}

TEST_CASE("a producer may exit before the consumer starts; nothing it pushed is lost", "[ipc][lifetime]") {
  segment_guard g("later");
  {
    // The parent only creates the segment and detaches at once (it is empty but not drained by a consumer yet,
    // and persistent so the empty segment survives until the producer fills it).
    options o;
    o.persistent = true;
    auto creator = producer<std::uint64_t>::create(g.name(), 1024, o);
  }
  child_process prod("fill_and_exit", {g.name(), "1000"});
  REQUIRE(prod.wait() == 0);
  child_process cons("checking_consumer", {g.name(), "1000"});
  CHECK(cons.wait() == 0);
}

TEST_CASE("a non-persistent ring filled by a producer that exits is drained by a later consumer", "[ipc][lifetime]") {
  segment_guard g("later2");
  {
    auto p = producer<std::uint64_t>::create(g.name(), 256);
    for (std::uint64_t i = 0; i < 200; ++i) REQUIRE(p.try_push(mix(i)));
  }  // not drained: stays
  child_process cons("checking_consumer", {g.name(), "200"});
  CHECK(cons.wait() == 0);
  CHECK_THROWS_AS(consumer<std::uint64_t>::open(g.name()), shmring::error);  // drained and both gone: removed
}

TEST_CASE("a consumer process checks a producer parent", "[ipc]") {
  segment_guard g("rev");
  auto p = producer<std::uint64_t>::create(g.name(), 512);
  constexpr std::uint64_t n = big_count / 10;
  child_process cons("checking_consumer", {g.name(), std::to_string(n)});
  for (std::uint64_t i = 0; i < n; ++i) p.push(mix(i));
  CHECK(cons.wait() == 0);
}
