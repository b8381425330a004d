// Run-time described elements (dynamic.hpp) against C++ types (typed.hpp) on one ring, in real processes: a
// dynamic producer feeds a consumer<T>, a producer<T> feeds a dynamic consumer, every value checked, through
// single, batched, timed and in-place calls, with waits on a small ring and the stream's close at the end; and
// the refusals (wrong size, alignment or type name; bad descriptions; a second producer; another kind of ring).
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {
constexpr std::uint64_t count = shmring_test::scaled(200'000, 50'000);
constexpr std::uint64_t small_ring = 64;  // small: both sides wait for each other many times

struct rec {
  std::uint64_t seq;
  double value;
  std::uint64_t check;  // mix of seq: a torn or stale copy fails it
  static constexpr std::string_view shmring_type_name = "test.dynamic.rec/v1";
};
static_assert(sizeof(rec) == 24 && alignof(rec) == 8);

const element_info rec_info{sizeof(rec), alignof(rec), rec::shmring_type_name};

rec make_rec(std::uint64_t i) { return rec{i, static_cast<double>(i) * 0.25, mix(i)}; }
bool rec_ok(const rec& r, std::uint64_t i) {
  const rec want = make_rec(i);
  return std::memcmp(&r, &want, sizeof want) == 0;
}

// The n-th element is sent through one of four calls: push, push_n of a batch (an odd size that straddles the
// wrap point), push_for, try_push in a loop (wait-free, the ring may be full).
enum class way { one, batch, timed, try_loop };
way way_of(std::uint64_t i) { return static_cast<way>((i / 37) % 4); }
}  // namespace

// args: name count. A dynamic producer of rec pushes count records in every way, then closes the stream.
SHMRING_CHILD(dynamic_rec_producer) {
  auto p = dynamic_producer::open(args.at(0), rec_info);
  const std::uint64_t n = std::stoull(args.at(1));
  std::array<rec, 37> buf{};
  for (std::uint64_t i = 0; i < n;) {
    const std::uint64_t k = std::min<std::uint64_t>(37 - i % 37, n - i);  // to the end of this group of 37
    switch (way_of(i)) {
      case way::one:
        for (std::uint64_t j = 0; j < k; ++j) {
          const rec r = make_rec(i + j);
          p.push(&r);
        }
        break;
      case way::batch:
        for (std::uint64_t j = 0; j < k; ++j) buf[j] = make_rec(i + j);
        p.push_n(buf.data(), static_cast<std::size_t>(k));
        break;
      case way::timed:
        for (std::uint64_t j = 0; j < k; ++j) {
          const rec r = make_rec(i + j);
          if (!p.push_for(&r, std::chrono::hours::max())) return 3;
        }
        break;
      case way::try_loop:
        for (std::uint64_t j = 0; j < k; ++j) {
          const rec r = make_rec(i + j);
          while (!p.try_push(&r)) {
            if (p.consumer_state() == peer_state::dead) return 4;
          }
        }
        break;
    }
    i += k;
  }
  if (p.pushed() != n) return 5;
  p.close();
  return 0;
}

// args: name count. A producer<rec> pushes count records, then closes the stream.
SHMRING_CHILD(typed_rec_producer) {
  auto p = producer<rec>::open(args.at(0));
  const std::uint64_t n = std::stoull(args.at(1));
  std::array<rec, 37> buf{};
  for (std::uint64_t i = 0; i < n;) {
    const std::uint64_t k = std::min<std::uint64_t>(37, n - i);
    for (std::uint64_t j = 0; j < k; ++j) buf[j] = make_rec(i + j);
    if ((i / 37) % 2 == 0) {
      p.push_n(std::span<const rec>(buf.data(), static_cast<std::size_t>(k)));
    } else {
      for (std::uint64_t j = 0; j < k; ++j) p.push(buf[j]);
    }
    i += k;
  }
  p.close();
  return 0;
}

TEST_CASE("a dynamic producer feeds a consumer<T> of the same size, alignment and name", "[ipc]") {
  segment_guard g("dyn-to-typed");
  auto c = consumer<rec>::create(g.name(), small_ring);
  child_process prod("dynamic_rec_producer", {g.name(), std::to_string(count)});
  std::uint64_t bad = 0, first_bad = ~std::uint64_t{0};
  std::array<rec, 29> buf{};
  for (std::uint64_t i = 0; i < count;) {
    if ((i / 29) % 2 == 0) {
      const std::size_t k = c.pop_n(std::span<rec>(buf.data(), std::min<std::uint64_t>(buf.size(), count - i)));
      for (std::size_t j = 0; j < k; ++j, ++i)
        if (!rec_ok(buf[j], i) && bad++ == 0) first_bad = i;
    } else {
      const rec r = c.pop();
      if (!rec_ok(r, i) && bad++ == 0) first_bad = i;
      ++i;
    }
  }
  CHECK(bad == 0);
  CHECK(first_bad == ~std::uint64_t{0});
  CHECK(code_of([&] { (void)c.pop(); }) == errc::closed);  // the stream's end, after every element
  CHECK(c.popped() == count);
  REQUIRE(prod.wait() == 0);
}

TEST_CASE("a producer<T> feeds a dynamic consumer, read by copy, in batches, timed and in place", "[ipc]") {
  segment_guard g("typed-to-dyn");
  auto c = dynamic_consumer::create(g.name(), rec_info, small_ring);
  CHECK(c.capacity() == small_ring);
  CHECK(c.element().size == sizeof(rec));
  CHECK(c.element().align == alignof(rec));
  CHECK(c.element().type_name == rec::shmring_type_name);
  child_process prod("typed_rec_producer", {g.name(), std::to_string(count)});
  std::uint64_t bad = 0, first_bad = ~std::uint64_t{0};
  auto check = [&](const rec& r, std::uint64_t i) {
    if (!rec_ok(r, i) && bad++ == 0) first_bad = i;
  };
  std::array<rec, 31> buf{};
  for (std::uint64_t i = 0; i < count;) {
    switch ((i / 31) % 5) {
      case 0: {
        rec r{};
        c.pop(&r);
        check(r, i++);
        break;
      }
      case 1: {
        const std::size_t k = c.pop_n(buf.data(), std::min<std::size_t>(buf.size(), count - i));
        for (std::size_t j = 0; j < k; ++j) check(buf[j], i++);
        break;
      }
      case 2: {
        rec r{};
        REQUIRE(c.pop_for(&r, std::chrono::hours::max()));
        check(r, i++);
        break;
      }
      case 3: {
        rec r{};
        bool got = false;
        while (!(got = c.try_pop(&r)) && c.producer_state() != peer_state::dead) {
        }
        REQUIRE(got);
        check(r, i++);
        break;
      }
      default: {
        const void* p = nullptr;
        while ((p = c.front()) == nullptr && c.producer_state() != peer_state::dead) {
        }
        REQUIRE(p != nullptr);
        rec r{};
        std::memcpy(&r, p, sizeof r);
        check(r, i++);
        c.pop_front();
        break;
      }
    }
  }
  CHECK(bad == 0);
  CHECK(first_bad == ~std::uint64_t{0});
  rec extra{};
  CHECK(code_of([&] { c.pop(&extra); }) == errc::closed);
  CHECK(code_of([&] { (void)c.pop_for(&extra, std::chrono::seconds(0)); }) == errc::closed);
  CHECK_FALSE(c.try_pop(&extra));
  CHECK(c.try_pop_n(buf.data(), buf.size()) == 0);
  CHECK(c.popped() == count);
  REQUIRE(prod.wait() == 0);
}

TEST_CASE("dynamic endpoints in one process: batches across the wrap point, timeouts, counters", "[unit]") {
  segment_guard g("dyn-local");
  auto p = dynamic_producer::create(g.name(), {8, 8}, 16);
  auto c = dynamic_consumer::open(g.name(), {8, 8});
  std::uint64_t v = 0, out = 0;
  CHECK_FALSE(c.pop_for(&out, std::chrono::milliseconds(1)));  // empty: times out
  std::array<std::uint64_t, 16> in{}, got{};
  for (std::uint64_t round = 0; round < 5; ++round) {
    for (std::size_t j = 0; j < in.size(); ++j) in[j] = mix(round * 100 + j);
    REQUIRE(p.try_push_n(in.data(), 11) == 11);  // 11 of 16, then 5 more: the batches straddle the wrap point
    REQUIRE(p.try_push_n(in.data() + 11, 5) == 5);
    CHECK(p.try_push_n(in.data(), 1) == 0);  // full
    CHECK_FALSE(p.try_push(&v));
    CHECK_FALSE(p.push_for(&v, std::chrono::milliseconds(1)));  // full: times out
    REQUIRE(c.try_pop_n(got.data(), 7) == 7);
    REQUIRE(c.pop_n(got.data() + 7, 16) == 9);
    CHECK(got == in);
  }
  CHECK(p.pushed() == 80);
  CHECK(c.popped() == 80);
  CHECK(p.consumer_state() == peer_state::alive);
  CHECK(c.element().type_name.empty());
  p.close();
  CHECK(c.producer_state() == peer_state::closed);
  CHECK(code_of([&] { c.pop(&out); }) == errc::closed);
}

TEST_CASE("dynamic openers are refused a ring of another element, and bad descriptions", "[unit]") {
  segment_guard g("dyn-refuse");
  auto c = consumer<rec>::create(g.name(), 8);
  auto open_as = [&](element_info e) { return code_of([&] { (void)dynamic_producer::open(g.name(), e); }); };
  CHECK(open_as({16, 8, rec::shmring_type_name}) == errc::element_mismatch);  // size
  CHECK(open_as({24, 4, rec::shmring_type_name}) == errc::element_mismatch);  // alignment
  CHECK(open_as({24, 8, "test.dynamic.other/v1"}) == errc::element_mismatch);  // name
  CHECK(code_of([&] { (void)dynamic_consumer::open(g.name(), {24, 8, "x"}); }) == errc::element_mismatch);
  // Bad descriptions, refused before any segment is touched.
  CHECK(open_as({0, 1}) == errc::invalid_argument);
  CHECK(open_as({24, 3}) == errc::invalid_argument);
  CHECK(open_as({24, 16}) == errc::invalid_argument);  // size not a multiple of the alignment
  CHECK(open_as({8192, 8192}) == errc::invalid_argument);
  CHECK(open_as({24, 8, std::string_view("a\0b", 3)}) == errc::invalid_argument);
  CHECK(open_as({24, 8, std::string(41, 'n')}) == errc::invalid_argument);
  CHECK(code_of([&] { (void)dynamic_producer::create("dyn-refuse-cap", {8, 8}, 3); }) == errc::invalid_argument);
  CHECK(code_of([&] { (void)dynamic_consumer::open(g.name() + "-none", rec_info); }) == errc::not_found);
  // No name: compared by size and alignment only, as a C++ type without shmring_type_name.
  {
    auto p = dynamic_producer::open(g.name(), {24, 8});
    CHECK(p.element().type_name == rec::shmring_type_name);  // the segment's name
    CHECK(code_of([&] { (void)dynamic_producer::open(g.name(), rec_info); }) == errc::already_attached);
    CHECK(code_of([&] { (void)producer<rec>::open(g.name()); }) == errc::already_attached);
  }
  // A message ring is another kind.
  segment_guard m("dyn-refuse-msg");
  auto mc = message_consumer::create(m.name(), 4096);
  CHECK(code_of([&] { (void)dynamic_producer::open(m.name(), {8, 8}); }) == errc::kind_mismatch);
}

namespace {
struct alignas(16) forty_eight {  // turn slots of 64 bytes, the element at +16
  std::uint64_t w[6];
};
struct sixty_four {  // packed
  std::uint64_t w[8];
};
struct hundred_bytes {  // packed, alignment 4
  std::uint32_t w[25];
};

struct eight {  // turn slots of 16 bytes, or packed 8 to a line
  std::uint64_t w[1];
};

// A dynamic producer and a consumer<T, S>, then a producer<T, S> and a dynamic consumer, on one ring of T's slots in
// format S (the dynamic side creates with options::slot_layout = S, and opens whatever the ring has).
template <class T, slots S = slots::turn>
void both_ways(const std::string& name) {
  constexpr std::size_t words = sizeof(T) / sizeof(std::declval<T>().w[0]);
  auto make = [](std::uint64_t i) {
    T v{};
    for (std::size_t k = 0; k < words; ++k) v.w[k] = static_cast<decltype(v.w[0] + 0)>(mix(i * 31 + k));
    return v;
  };
  const element_info e{sizeof(T), alignof(T)};
  options o;
  o.slot_layout = S;
  {
    segment_guard g(name + "-a");
    auto p = dynamic_producer::create(g.name(), e, 8, o);
    auto c = consumer<T, S>::open(g.name());
    const auto st = c.status();
    CHECK(st.segment_size == layout::data_offset_for(alignof(T)) + 8 * shmring::ring<T, S>::slot_stride);
    CHECK(status(g.name()).segment_size == st.segment_size);  // an observer reads either format
    std::array<T, 5> in{}, out{};
    for (std::uint64_t round = 0; round < 6; ++round) {  // batches and singles across the wrap
      for (std::size_t j = 0; j < in.size(); ++j) in[j] = make(round * 10 + j);
      REQUIRE(p.try_push_n(in.data(), 3) == 3);
      REQUIRE(p.try_push(&in[3]));
      REQUIRE(p.try_push(&in[4]));
      const T* f = c.front();
      REQUIRE(f != nullptr);
      CHECK(std::memcmp(f, &in[0], sizeof(T)) == 0);
      c.pop_front();
      REQUIRE(c.try_pop_n(std::span<T>(out.data(), 4)) == 4);
      CHECK(std::memcmp(out.data(), in.data() + 1, 4 * sizeof(T)) == 0);
    }
  }
  {
    segment_guard g(name + "-b");
    auto p = producer<T, S>::create(g.name(), 8);
    auto c = dynamic_consumer::open(g.name(), e);  // default options: opens either format
    std::array<T, 5> in{}, out{};
    for (std::uint64_t round = 0; round < 6; ++round) {
      for (std::size_t j = 0; j < in.size(); ++j) in[j] = make(round * 10 + j);
      REQUIRE(p.try_push_n(std::span<const T>(in.data(), 2)) == 2);
      for (std::size_t j = 2; j < in.size(); ++j) REQUIRE(p.try_push(in[j]));
      REQUIRE(c.try_pop(&out[0]));
      const void* f = c.front();
      REQUIRE(f != nullptr);
      std::memcpy(&out[1], f, sizeof(T));
      c.pop_front();
      REQUIRE(c.try_pop_n(out.data() + 2, 3) == 3);
      CHECK(std::memcmp(out.data(), in.data(), sizeof in) == 0);
    }
  }
}
}  // namespace

TEST_CASE("dynamic endpoints and C++ types share rings of both slot formats", "[unit][turn]") {
  static_assert(shmring::fixed_slot<sizeof(forty_eight), 16>::has_turn());
  static_assert(!shmring::fixed_slot<sizeof(sixty_four), 8>::has_turn());
  CHECK(runtime_slot(48, 16, slots::turn).has_turn());
  CHECK(runtime_slot(48, 16, slots::turn).stride() == 64);
  CHECK(runtime_slot(48, 16, slots::turn).offset() == 16);
  CHECK_FALSE(runtime_slot(48, 16, slots::packed).has_turn());
  CHECK(runtime_slot(48, 16, slots::packed).stride() == 48);
  CHECK_FALSE(runtime_slot(64, 8, slots::turn).has_turn());
  CHECK(runtime_slot(100, 4, slots::turn).stride() == 100);
  both_ways<forty_eight>("dyn-fmt-48");
  both_ways<sixty_four>("dyn-fmt-64");
  both_ways<hundred_bytes>("dyn-fmt-100");
}

TEST_CASE("rings created with packed slots: both kinds of endpoint, and openers naming the other format refused",
          "[unit][turn]") {
  static_assert(shmring::ring<eight, slots::packed>::slot_stride == 8 && shmring::ring<eight>::slot_stride == 16);
  static_assert(shmring::ring<forty_eight, slots::packed>::slot_stride == 48);
  static_assert(shmring::ring<sixty_four, slots::packed>::slot_stride == shmring::ring<sixty_four>::slot_stride);
  both_ways<eight, slots::packed>("dyn-packed-8");
  both_ways<forty_eight, slots::packed>("dyn-packed-48");
  both_ways<sixty_four, slots::packed>("dyn-packed-64");  // packed either way: both names open it
  {
    segment_guard g("dyn-packed-any");
    auto p = producer<sixty_four, slots::packed>::create(g.name(), 8);
    auto c = consumer<sixty_four>::open(g.name());
    CHECK(c.capacity() == 8);
  }
  // A ring keeps the format it was created with; an opener naming the other one is told which the ring has.
  segment_guard g("dyn-packed-refuse");
  auto c = consumer<eight, slots::packed>::create(g.name(), 16);
  CHECK(c.status().segment_size == layout::data_offset_for(8) + 16 * 8);
  const std::string why = shmring_test::message_of([&] { (void)producer<eight>::open(g.name()); });
  CHECK(code_of([&] { (void)producer<eight>::open(g.name()); }) == errc::layout_mismatch);
  CHECK(why.find("the segment has packed slots") != std::string::npos);
  {
    auto p = producer<eight, slots::packed>::open(g.name());
    const eight v{{42}};
    REQUIRE(p.try_push(v));
    const auto got = c.try_pop();
    REQUIRE(got.has_value());
    CHECK(got->w[0] == 42);
  }
  segment_guard t("dyn-turn-refuse");
  auto tc = consumer<eight>::create(t.name(), 16);
  CHECK(code_of([&] { (void)producer<eight, slots::packed>::open(t.name()); }) == errc::layout_mismatch);
  CHECK(shmring_test::message_of([&] { (void)producer<eight, slots::packed>::open(t.name()); })
            .find("the segment has turn slots") != std::string::npos);
}
