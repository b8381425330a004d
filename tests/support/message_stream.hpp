// Test support for the message-ring tests (namespace msgtest): seeded payload streams that carry their sequence
// number and a CRC-32, and the type and flags each message of a stream carries. msgtest::scaled and
// msgtest::raw_segment are sanitizers.hpp's and raw_segment.hpp's, under the names these tests use.
#pragma once

#include <shmring/shmring.hpp>

#include "checksum.hpp"
#include "raw_segment.hpp"
#include "sanitizers.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace msgtest {

using shmring_test::raw_segment;
using shmring_test::scaled;

/// The payload size of message i of a seeded stream, in [0, max]: one message in 8 is log-uniform over the whole
/// range (each power-of-two range of sizes as likely as any other, so 64 KiB ones appear often), the others are
/// log-uniform up to min(max, 4 KiB), which keeps a million messages near 0.8 GB to checksum.
inline std::size_t random_size(std::uint64_t seed, std::uint64_t i, std::size_t max = 65536) {
  const std::uint64_t r = shmring_test::mix(seed * 0x100000001B3ull + i);
  const std::size_t limit = (r & 7) == 0 ? max : std::min<std::size_t>(max, 4096);
  unsigned top = 0;
  while ((std::size_t{1} << (top + 1)) <= limit) ++top;  // floor(log2(limit))
  const unsigned bits = static_cast<unsigned>((r >> 3) % (top + 2));  // 0..top+1
  const std::uint64_t range = bits > top ? limit : (std::uint64_t{1} << bits);
  return static_cast<std::size_t>((r >> 16) % (range + 1));
}

/// The bytes of message seq: [seq: u64][crc32 of the rest: u32][pseudo-random body], cut to p.size(). A message
/// shorter than 12 bytes carries the first bytes of [seq][crc32 of nothing].
inline void fill(std::span<std::byte> p, std::uint64_t seq, std::uint64_t seed = 1) {
  const std::size_t head = std::min<std::size_t>(12, p.size());
  std::uint64_t x = shmring_test::mix(seed ^ (seq * 0x9E3779B97F4A7C15ull)) | 1;
  std::size_t i = head;
  for (; i + 8 <= p.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(p.data() + i, &x, 8);
  }
  for (; i < p.size(); ++i) p[i] = static_cast<std::byte>(x >> (8 * (i % 8)));
  std::byte prefix[12];
  const std::uint32_t crc = shmring_test::crc32(p.subspan(head));
  std::memcpy(prefix, &seq, 8);
  std::memcpy(prefix + 8, &crc, 4);
  if (head != 0) std::memcpy(p.data(), prefix, head);  // an empty span may have a null data()
}

/// Whether p is what fill() makes for seq (its own sequence field and a matching CRC-32).
inline bool check(std::span<const std::byte> p, std::uint64_t seq) {
  const std::size_t head = std::min<std::size_t>(12, p.size());
  std::byte prefix[12];
  const std::uint32_t crc = shmring_test::crc32(p.subspan(head));
  std::memcpy(prefix, &seq, 8);
  std::memcpy(prefix + 8, &crc, 4);
  return head == 0 || std::memcmp(p.data(), prefix, head) == 0;  // an empty span may have a null data()
}

/// The type and flags message i of a stream carries (so every value round-trips).
inline shmring::message_type type_of(std::uint64_t i) {
  if (i % 7 == 0) return static_cast<shmring::message_type>(1000 + i % 5);
  if (i % 11 == 0) return shmring::message_type::control;
  if (i % 13 == 0) return shmring::message_type::heartbeat;
  if (i % 17 == 0) return shmring::message_type::error;
  return shmring::message_type::data;
}
inline shmring::message_flags flags_of(std::uint64_t i) {
  using shmring::message_flags;
  if (i % 3 == 0) return message_flags::urgent;
  if (i % 5 == 0) return message_flags::compressed | message_flags::encrypted;
  return message_flags::none;
}

}  // namespace msgtest
