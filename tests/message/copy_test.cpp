// detail::copy_from_peer: the copy every consumer uses to take bytes out of the ring (message receive into a
// buffer, pop_n). It must equal memcpy for every size and alignment, around the size where it leaves memcpy for
// its own loop, and write nothing outside the destination.
#include <catch2/catch.hpp>

#include <shmring/detail/copy.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

using shmring::detail::copy_from_peer;
using shmring::detail::peer_copy_loop_from;

namespace {

std::uint8_t pattern(std::size_t i) { return static_cast<std::uint8_t>((i * 131u + 7u) ^ (i >> 8)); }

}  // namespace

TEST_CASE("copy_from_peer copies every size and alignment exactly and nothing else", "[unit][copy]") {
  constexpr std::size_t guard = 64;
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 130; ++n) sizes.push_back(n);
  for (std::size_t n = peer_copy_loop_from - 65; n <= peer_copy_loop_from + 65; ++n) sizes.push_back(n);
  for (std::size_t n : {std::size_t{65536}, std::size_t{65536 + 8}, std::size_t{65536 + 63}, std::size_t{1} << 20})
    sizes.push_back(n);
  for (const std::size_t n : sizes)
    for (const std::size_t src_off : {0u, 1u, 8u, 31u})
      for (const std::size_t dst_off : {0u, 3u, 8u, 40u}) {
        std::vector<std::uint8_t> src(n + src_off);
        for (std::size_t i = 0; i < src.size(); ++i) src[i] = pattern(i);
        std::vector<std::uint8_t> dst(n + dst_off + 2 * guard, 0xA5);
        copy_from_peer(dst.data() + guard + dst_off, src.data() + src_off, n);
        std::size_t wrong = 0, first_wrong = 0;
        for (std::size_t i = 0; i < dst.size(); ++i) {
          const bool inside = i >= guard + dst_off && i < guard + dst_off + n;
          const std::uint8_t want = inside ? pattern(i - guard - dst_off + src_off) : 0xA5;
          if (dst[i] != want && wrong++ == 0) first_wrong = i;
        }
        INFO("n " << n << " src_off " << src_off << " dst_off " << dst_off << " first wrong byte " << first_wrong);
        REQUIRE(wrong == 0);
      }
}
