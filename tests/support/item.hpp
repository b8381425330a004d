// Test support: a checked 64-byte element for rings between processes.
#pragma once

#include "checksum.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace shmring_test {

/// A 64-byte element whose every byte is a function of its sequence number and flags, closed by a CRC-32 over
/// the rest: a lost, repeated, torn or stale element fails the check.
struct item {
  std::uint64_t seq;
  std::uint32_t flags;  // 1 on the last element of a stream
  std::uint8_t body[48];
  std::uint32_t crc;    // crc32 of the 60 bytes before it
};
static_assert(sizeof(item) == 64);

inline item make_item(std::uint64_t seq, std::uint32_t flags = 0) {
  item v{};
  v.seq = seq;
  v.flags = flags;
  std::uint64_t x = mix(seq);
  for (std::size_t i = 0; i < sizeof v.body; i += 8) {
    x = mix(x);
    std::memcpy(v.body + i, &x, 8);
  }
  v.crc = crc32(std::as_bytes(std::span<const item>(&v, 1)).first(offsetof(item, crc)));
  return v;
}

/// True when v is exactly element seq (with whatever flags it carries, which the CRC covers).
inline bool item_ok(const item& v, std::uint64_t seq) {
  const item want = make_item(seq, v.flags);
  return std::memcmp(&v, &want, sizeof want) == 0;
}

}  // namespace shmring_test
