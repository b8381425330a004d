// Test support: checksums that a producer and a consumer compute independently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace shmring_test {

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32().
inline std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) noexcept {
  static const auto table = [] {
    struct t { std::uint32_t v[256]; } tab{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      tab.v[i] = c;
    }
    return tab;
  }();
  crc = ~crc;
  for (const std::byte b : data) crc = table.v[(crc ^ static_cast<std::uint8_t>(b)) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/// A 64-bit mixing step (splitmix64): the value a sequence number maps to, and a running checksum.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace shmring_test
