// The typed fuzz harness (tests/fuzz/typed_fuzz.cpp) in every ordinary build: each committed seed behaves as its
// name says (valid-*: an honest producer, everything published delivered, never corrupted; hostile-*: a hostile
// producer, no invariant broken), and thousands of deterministic mutations of them (each a hostile run unless it
// stays honest) break none of the harness's checks: no out-of-bounds access, no index twice, no endless loop.
#include <catch2/catch.hpp>

#include "typed_fuzz.cpp"

#include "checksum.hpp"
#include "corpus_files.hpp"
#include "sanitizers.hpp"

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {
auto corpus() { return shmring_fuzz_replay::corpus(SHMRING_TYPED_FUZZ_CORPUS); }
}  // namespace

TEST_CASE("every seed of the typed fuzz corpus does what its name says", "[ring][turn][fuzz]") {
  const auto inputs = corpus();
  REQUIRE(inputs.size() >= 6);
  for (const auto& [name, bytes] : inputs) {
    INFO(name);
    const auto r = shmring_typed_fuzz::run(bytes.data(), bytes.size());
    if (name.rfind("valid-", 0) == 0) {
      CHECK(r.honest);
      CHECK_FALSE(r.corrupted);
      CHECK(r.published >= 8);
      CHECK(r.delivered == r.published);
    } else {
      REQUIRE(name.rfind("hostile-", 0) == 0);
      CHECK_FALSE(r.honest);
    }
  }
}

TEST_CASE("mutations of the typed corpus never overread, repeat an index or loop", "[ring][turn][fuzz]") {
  const auto inputs = corpus();
  const std::uint64_t per_input = shmring_test::scaled(3000, 400);
  std::uint64_t runs = 0, corrupted = 0, delivered = 0;
  for (const auto& [name, seed] : inputs) {
    for (std::uint64_t k = 0; k < per_input; ++k) {
      std::vector<std::uint8_t> b = seed;
      const std::uint64_t r = shmring_test::mix(k * 7919 + b.size());
      for (std::uint64_t m = 0; m < 1 + r % 4; ++m) {  // a few bytes replaced, one inserted or dropped
        const std::uint64_t x = shmring_test::mix(r + m);
        const std::size_t at = static_cast<std::size_t>(x % b.size());
        switch (x >> 32 & 3) {
          case 0: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(x >> 40)); break;
          case 1: if (b.size() > 10) b.erase(b.begin() + static_cast<std::ptrdiff_t>(at)); break;
          default: b[at] = static_cast<std::uint8_t>(x >> 40); break;
        }
      }
      const auto o = shmring_typed_fuzz::run(b.data(), b.size());  // traps on a broken invariant
      ++runs;
      corrupted += o.corrupted ? 1 : 0;
      delivered += o.delivered;
    }
  }
  CAPTURE(runs, corrupted, delivered);
  CHECK(runs == inputs.size() * per_input);
  CHECK(delivered > 0);
  CHECK(corrupted > 0);  // the mutations do reach the corruption paths
}
