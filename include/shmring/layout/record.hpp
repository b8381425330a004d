// shmring: the record format of a message ring's data area: framed variable-length records (docs/layout.md,
// "Message ring data area"). With layout/header.hpp this is the whole ABI between processes.
// May touch: nothing but the bytes it is handed (write_header). Constants, the record header and size arithmetic.
//
// - head and tail are monotonically increasing 64-bit BYTE indices, never wrapped (offset = index & (capacity-1)),
//   always multiples of 8. A record is a 32-byte header and its payload, padded to a multiple of 8 bytes.
// - A record never crosses the end of the data area: when it would, the producer first writes a padding record
//   that covers exactly the bytes up to the end, and the record starts at offset 0. A record is at most
//   capacity/2 bytes, so it always fits once the ring has drained.
// - A message larger than the largest record is cut into fragments: the first carries flag_first_fragment, the
//   last flag_last_fragment (a whole message carries both); all carry the message's sequence, type, flags,
//   timestamp and total length, so the consumer checks that every fragment belongs where it finds it.
// - Layout 4: in a ring whose header says flag_record_checksums (a file-backed ring), every data record carries
//   flag_checksummed and an 8-byte trailer after its padded payload: the CRC-32C of its 32 header bytes and its
//   payload, and its length again. A record's size is then size_of(length, trailer_size); every size rule below
//   takes the trailer as a parameter (0 in a /dev/shm ring, whose records are as in layout 3).
#pragma once

#include <shmring/config.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace shmring {

/// Largest message payload (1 GiB). A larger one is refused with errc::message_too_large.
inline constexpr std::uint64_t max_message_size = std::uint64_t{1} << 30;
/// Smallest data area of a message ring, in bytes (it must hold records of at least 32 payload bytes).
inline constexpr std::uint64_t min_message_capacity = 128;

/// The record format of a message ring's data area (docs/layout.md, "Message ring data area").
namespace record {

inline constexpr std::uint32_t header_size = 32;  ///< bytes of a data record's header
inline constexpr std::uint32_t alignment = 8;     ///< every record starts at a multiple of 8 bytes
inline constexpr std::uint32_t prefix_size = 8;   ///< bytes of a padding record that carry meaning
inline constexpr std::uint32_t trailer_size = 8;  ///< layout 4: bytes of a checksummed record's trailer

inline constexpr std::uint8_t kind_data = 1;     ///< a header and a payload follow
inline constexpr std::uint8_t kind_padding = 2;  ///< skip to the end of the data area

// The flags byte. Bits 0-3 are the BitRPC message flags; bits 4-5 belong to the framing.
inline constexpr std::uint8_t flag_urgent = 0x01;
inline constexpr std::uint8_t flag_compressed = 0x02;
inline constexpr std::uint8_t flag_encrypted = 0x04;
inline constexpr std::uint8_t flag_last_fragment = 0x08;   ///< the last (or only) record of a message
inline constexpr std::uint8_t flag_first_fragment = 0x10;  ///< the first (or only) record of a message
inline constexpr std::uint8_t flag_resync = 0x20;          ///< first record of a new producer session, see below
inline constexpr std::uint8_t flag_checksummed = 0x40;     ///< layout 4: a trailer follows (file-backed rings' checksummed records)
inline constexpr std::uint8_t user_flags = 0x07;           ///< the flags a sender chooses
inline constexpr std::uint8_t known_flags = 0x7f;          ///< anything else set is corruption

/// A record header as it lies in the data area (little-endian, 32 bytes, at a multiple of 8).
struct header {
  std::uint32_t length;          // +0  payload bytes in this record (padding: bytes from here to the end)
  std::uint8_t kind;             // +4  kind_data or kind_padding
  std::uint8_t flags;            // +5  flag_* bits
  std::uint16_t type_tag;        // +6  data: the payload type's tag (tag_of its shmring_type_name), 0 when none;
                                 //     padding: 0. Every fragment of a message carries the first one's.
  std::uint32_t type;            // +8  message_type
  std::uint32_t message_length;  // +12 payload bytes of the whole message (every fragment carries it)
  std::uint64_t sequence;        // +16 the message's sequence number (every fragment carries it)
  std::uint64_t timestamp_ns;    // +24 CLOCK_MONOTONIC when the send began (every fragment carries it)
};
static_assert(std::is_standard_layout_v<header> && std::is_trivially_copyable_v<header>);
static_assert(sizeof(header) == header_size);
static_assert(offsetof(header, length) == 0 && offsetof(header, kind) == 4 && offsetof(header, flags) == 5 &&
              offsetof(header, type_tag) == 6 && offsetof(header, type) == 8 &&
              offsetof(header, message_length) == 12 && offsetof(header, sequence) == 16 &&
              offsetof(header, timestamp_ns) == 24);

/// Writes h at dst field by field, from registers. A memcpy of a header just built on the stack made gcc load it
/// back in 16-byte pieces, each spanning several narrower stores: such a load cannot be forwarded from the store
/// buffer and waits until those stores, and every older one, reach the cache. The older ones include the payload
/// just written, whose lines the consumer may still hold, so commit() stalled for a cache-line round trip per record
/// (64-byte zero-copy messages without timestamps: 25.6 M/s before, 61.6 M/s after; docs/benchmarks.md).
inline void write_header(std::byte* dst, const header& h) noexcept {
  std::memcpy(dst + offsetof(header, length), &h.length, sizeof h.length);
  std::memcpy(dst + offsetof(header, kind), &h.kind, sizeof h.kind);
  std::memcpy(dst + offsetof(header, flags), &h.flags, sizeof h.flags);
  std::memcpy(dst + offsetof(header, type_tag), &h.type_tag, sizeof h.type_tag);
  std::memcpy(dst + offsetof(header, type), &h.type, sizeof h.type);
  std::memcpy(dst + offsetof(header, message_length), &h.message_length, sizeof h.message_length);
  std::memcpy(dst + offsetof(header, sequence), &h.sequence, sizeof h.sequence);
  std::memcpy(dst + offsetof(header, timestamp_ns), &h.timestamp_ns, sizeof h.timestamp_ns);
}

/// Layout 4: a checksummed record's trailer, at size_of(length) bytes from the record's start (little-endian).
struct trailer_words {
  std::uint32_t crc;     // +0 CRC-32C (ring/crc32c.hpp) of the record's 32 header bytes, then its length payload bytes
  std::uint32_t length;  // +4 the header's length again
};
static_assert(sizeof(trailer_words) == trailer_size && offsetof(trailer_words, crc) == 0 &&
              offsetof(trailer_words, length) == 4);

/// The 16-bit tag a record carries for a payload type that declares `shmring_type_name` (send_typed): FNV-1a of
/// the name folded to 16 bits, never 0 (0 means "no tag"). A receiver whose type declares another name refuses
/// the message (errc::type_mismatch). Sixteen bits tell types apart by accident only 1 time in 65,535: a check
/// against mistakes, not against an adversary (who could write any bytes anyway).
constexpr std::uint16_t tag_of(std::string_view name) noexcept {
  if (name.empty()) return 0;
  std::uint32_t h = 2166136261u;
  for (const char c : name) h = (h ^ static_cast<std::uint8_t>(c)) * 16777619u;
  const auto t = static_cast<std::uint16_t>((h >> 16) ^ (h & 0xffffu));
  return t == 0 ? std::uint16_t{1} : t;
}

/// Bytes a data record of `payload` bytes occupies: header + payload rounded up to 8, + the trailer (0 or
/// trailer_size: see the file comment).
constexpr std::uint64_t size_of(std::uint64_t payload, std::uint64_t trailer = 0) noexcept {
  return ((header_size + payload + (alignment - 1)) & ~std::uint64_t{alignment - 1}) + trailer;
}

/// The largest payload one record of a ring of `capacity` bytes carries: capacity/2 - 32 - trailer, at most 1 GiB.
constexpr std::uint64_t max_payload(std::uint64_t capacity, std::uint64_t trailer = 0) noexcept {
  return std::min<std::uint64_t>(capacity / 2 - header_size - trailer, max_message_size);
}

/// The fragmentation rule of the format: the payload bytes of the record a writer puts at byte index pos for a
/// message of `total` bytes of which `left` remain, in a ring of `capacity` bytes whose records carry at most
/// `max_payload`. A message of at most max_payload bytes is one record (padded to the next start when it would
/// cross the end of the data area, so it can be read in place). A larger one is cut into records of
/// min(left, max_payload) bytes, except that a record which would cross the end is cut to end exactly there
/// (when at least 8 payload bytes fit before the end; otherwise the end is padded): such a message needs its
/// payload plus a few headers, never a padding record's worth of waste.
constexpr std::uint64_t fragment_length(std::uint64_t pos, std::uint64_t total, std::uint64_t left,
                                        std::uint64_t capacity, std::uint64_t max_payload,
                                        std::uint64_t trailer = 0) noexcept {
  const std::uint64_t len = std::min(left, max_payload);
  if (total <= max_payload) return len;
  const std::uint64_t to_end = capacity - (pos & (capacity - 1));
  if (size_of(len, trailer) <= to_end || to_end < header_size + trailer + alignment) return len;
  return to_end - header_size - trailer;  // a multiple of 8: the record ends exactly at the end of the area
}

/// Bytes all records of an n-byte message take when its first record is written at byte index pos (its
/// fragment_length records, and the padding before any that would cross the end). A reader that holds a
/// fragmented message's first record until release relies on it: the whole message fits when this is at most the
/// capacity. UINT64_MAX if max_payload is 0.
constexpr std::uint64_t span_of(std::uint64_t pos, std::uint64_t n, std::uint64_t capacity,
                                std::uint64_t max_payload, std::uint64_t trailer = 0) noexcept {
  if (max_payload == 0) return ~std::uint64_t{0};
  const std::uint64_t start = pos;
  std::uint64_t left = n;
  do {
    const std::uint64_t len = fragment_length(pos, n, left, capacity, max_payload, trailer);
    const std::uint64_t size = size_of(len, trailer);
    const std::uint64_t off = pos & (capacity - 1);
    pos += off + size <= capacity ? size : (capacity - off) + size;
    left -= len;
  } while (left != 0);
  return pos - start;
}

/// Whether a capacity is usable for a message ring: a power of two in [min_message_capacity, 2^40].
constexpr bool valid_capacity(std::uint64_t capacity) noexcept {
  return capacity >= min_message_capacity && capacity <= (std::uint64_t{1} << 40) && std::has_single_bit(capacity);
}

}  // namespace record

}  // namespace shmring
