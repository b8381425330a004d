// Two threads on one ring, every sequence number checked: the algorithm on the heap (also near 2^64) and the
// producer/consumer endpoints on real shared memory. Built under the tsan preset so ThreadSanitizer checks the
// memory ordering.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <array>
#include <atomic>
#include <limits>
#include <thread>

using namespace shmring;
using shmring_test::mix;

namespace {
constexpr std::uint64_t count = shmring_test::scaled(5'000'000, 300'000);

struct payload {
  std::uint64_t seq;
  std::uint64_t check;
};

// Runs a producer thread pushing count payloads while this thread pops and checks them.
template <class Push, class Pop>
std::uint64_t run(Push push, Pop pop) {
  std::thread producer_thread([&] {
    for (std::uint64_t i = 0; i < count; ++i) push(payload{i, mix(i)});
  });
  std::uint64_t bad = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const payload p = pop();
    bad += (p.seq == i && p.check == mix(i)) ? 0 : 1;
  }
  producer_thread.join();
  return bad;
}
}  // namespace

TEST_CASE("two threads on a heap ring: every element arrives once, in order", "[stress]") {
  const std::uint64_t first = GENERATE(std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max() - count / 2);
  CAPTURE(first);
  heap_ring<payload> r(256, first);
  const std::uint64_t bad = run(
      [&](const payload& p) {
        while (!r.try_push(p)) std::this_thread::yield();
      },
      [&] {
        for (;;) {
          if (auto v = r.try_pop()) return *v;
          std::this_thread::yield();
        }
      });
  CHECK(bad == 0);
  CHECK_FALSE(r.try_pop().has_value());
}

TEST_CASE("two threads with batches and in-place reads on a heap ring", "[stress][batch]") {
  heap_ring<payload> r(64);
  std::thread producer_thread([&] {
    std::array<payload, 7> buf{};
    for (std::uint64_t i = 0; i < count;) {
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), count - i));
      for (std::size_t j = 0; j < k; ++j) buf[j] = payload{i + j, mix(i + j)};
      std::span<const payload> rest(buf.data(), k);
      while (!rest.empty()) {
        rest = rest.subspan(r.try_push_n(rest));
        if (!rest.empty()) std::this_thread::yield();
      }
      i += k;
    }
  });
  std::uint64_t bad = 0;
  std::array<payload, 5> out{};
  for (std::uint64_t i = 0; i < count;) {
    if (i % 3 == 0) {
      if (const payload* p = r.front()) {
        bad += (p->seq == i && p->check == mix(i)) ? 0 : 1;
        (void)r.pop_front();
        ++i;
      } else {
        std::this_thread::yield();
      }
      continue;
    }
    const std::size_t n = r.try_pop_n(out);
    if (n == 0) std::this_thread::yield();
    for (std::size_t j = 0; j < n; ++j, ++i) bad += (out[j].seq == i && out[j].check == mix(i)) ? 0 : 1;
  }
  producer_thread.join();
  CHECK(bad == 0);
}

TEST_CASE("two threads through producer/consumer on shared memory, each wait policy", "[stress][segment]") {
  const wait_policy policy = GENERATE(wait_policy::spin, wait_policy::yield, wait_policy::sleep);
  CAPTURE(static_cast<int>(policy));
  shmring_test::segment_guard g("stress");
  options o;
  o.wait.policy = policy;
  o.wait.spin_iterations = 64;  // sleep often: exercises the wake-up path under TSAN
  auto c = consumer<payload>::create(g.name(), 128, o);
  auto p = producer<payload>::open(g.name(), o);
  const std::uint64_t bad = run([&](const payload& v) { p.push(v); }, [&] { return c.pop(); });
  CHECK(bad == 0);
  CHECK(p.pushed() == count);
  CHECK(c.popped() == count);
}
