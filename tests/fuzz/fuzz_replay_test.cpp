// The fuzz harness (tests/fuzz/message_fuzz.cpp) in every ordinary build: each committed corpus input behaves as
// its name says (valid-*: messages delivered, no corruption; invalid-*: corruption found or the header refused),
// and thousands of deterministic mutations of them run without a crash, an out-of-bounds read or an endless loop.
#include <catch2/catch.hpp>

#include "message_fuzz.cpp"

#include "checksum.hpp"
#include "corpus_files.hpp"
#include "message_stream.hpp"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {
auto corpus() { return shmring_fuzz_replay::corpus(SHMRING_FUZZ_CORPUS); }
}  // namespace

TEST_CASE("every seed of the fuzz corpus does what its name says", "[message][fuzz]") {
  const auto inputs = corpus();
  REQUIRE(inputs.size() >= 10);
  for (const auto& [name, bytes] : inputs) {
    INFO(name);
    const auto r = shmring_fuzz::run(bytes.data(), bytes.size());
    if (name.rfind("valid-", 0) == 0) {
      CHECK_FALSE(r.rejected);
      CHECK_FALSE(r.corrupted);
      CHECK(r.delivered >= 1);
    } else {
      REQUIRE(name.rfind("invalid-", 0) == 0);
      CHECK((r.rejected || r.corrupted));
    }
  }
}

TEST_CASE("mutations of the corpus never crash, overread or loop", "[message][fuzz]") {
  const auto inputs = corpus();
  const std::uint64_t per_input = msgtest::scaled(4000, 500);
  std::uint64_t runs = 0, corrupted = 0, delivered = 0;
  for (const auto& [name, seed] : inputs) {
    for (std::uint64_t k = 0; k < per_input; ++k) {
      std::vector<std::uint8_t> b = seed;
      const std::uint64_t r = shmring_test::mix(k * 7919 + b.size());
      const std::size_t header = sizeof(shmring::layout::header);
      for (std::uint64_t m = 0; m < 1 + r % 4; ++m) {
        const std::uint64_t x = shmring_test::mix(r + m);
        // Mostly the data area and the index lines; sometimes any byte; sometimes a whole 32-bit value.
        const std::size_t at = x % 4 == 0 ? (x >> 8) % b.size()
                               : x % 4 == 1 ? 64 + (x >> 8) % 128
                                            : header + (x >> 8) % (b.size() - header);
        if ((x >> 40) % 3 == 0 && at + 4 <= b.size()) {
          const std::uint32_t v = static_cast<std::uint32_t>(x >> 32) >> ((x >> 20) % 32);
          std::memcpy(b.data() + at, &v, 4);
        } else {
          b[at] ^= static_cast<std::uint8_t>(1u << ((x >> 16) % 8));
        }
      }
      if (r % 16 == 0) {  // truncated
        const std::size_t cut = std::min<std::size_t>(b.size(), (r >> 8) % 64);
        b.erase(b.end() - static_cast<std::ptrdiff_t>(cut), b.end());
      }
      if (r % 16 == 1)
        for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(r >> (8 * i)));  // one more head value
      const auto o = shmring_fuzz::run(b.data(), b.size());
      ++runs;
      corrupted += o.corrupted ? 1 : 0;
      delivered += o.delivered;
    }
  }
  INFO(runs << " runs, " << corrupted << " corrupted, " << delivered << " messages delivered");
  CHECK(corrupted > runs / 20);
  CHECK(delivered > runs / 4);
}
