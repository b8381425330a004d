// shmring: the check of one record of a message ring's data area: a pure function of bytes.
// May touch: nothing. It reads the record header at a record boundary (once, into private memory) and says
// whether it is a well-formed padding or data record of this ring. Every rule that needs no memory of earlier
// records lives here; the reader's state machine (record_reader.hpp) adds the rules that do (sequence numbers,
// resync, reassembly). The fuzz target calls it directly on arbitrary bytes.
#pragma once

#include <shmring/config.hpp>
#include <shmring/layout/record.hpp>
#include <shmring/ring/crc32c.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace shmring::record {

/// What check() found at a record boundary.
struct checked {
  enum class kind_t : std::uint8_t { padding, data, invalid };
  kind_t kind = kind_t::invalid;
  header h{};                  ///< the private copy (for padding only its first 8 bytes carry meaning)
  std::uint64_t size = 0;      ///< bytes the record occupies: header and padded payload, or padding to the end
  const char* why = nullptr;   ///< invalid: what was wrong (a static string)

  [[nodiscard]] bool ok() const noexcept { return kind != kind_t::invalid; }
};

/// The geometry of a data area, from the validated header snapshot.
struct area {
  const std::byte* data;     ///< capacity bytes
  std::uint64_t capacity;    ///< a power of two, >= min_message_capacity
  std::uint64_t max_payload; ///< record::max_payload(capacity, trailer)
  std::uint32_t trailer = 0; ///< layout 4: record::trailer_size when every data record must be checksummed, else 0
};

namespace detail {
inline checked invalid(const char* why) noexcept {
  checked c;
  c.why = why;
  return c;
}
}  // namespace detail

/// Checks the record at byte offset `off` (a multiple of 8, below capacity) of the area, with `avail` (> 0) bytes
/// published from there by the producer. Copies the header out of the area once (its first 8 bytes, then all 32
/// for a data record) and checks only the copy, so a peer changing the bytes meanwhile cannot make a checked
/// value unchecked. Reads nothing outside [off, off + 32) and nothing past the published bytes, except in a ring of
/// checksummed records (a.trailer != 0), where it reads the whole record once to compare its CRC-32C with its
/// trailer: a torn record (a power cut that kept only some of its pages) or one from an older lap (whose trailer
/// does not match its header) is invalid.
/// check_full applies every rule to every kind of record, out of line; check() (below), which callers use, gives
/// the same verdict with the common case inline (the message fuzzer compares the two on every input).
[[nodiscard]] SHMRING_NOINLINE inline checked check_full(const area& a, std::uint64_t off,
                                                         std::uint64_t avail) noexcept {
  using detail::invalid;
  if (avail < prefix_size) return invalid("fewer than 8 bytes published at a record boundary");
  checked c;
  std::memcpy(&c.h, a.data + off, prefix_size);  // off <= capacity - 8: off and capacity are multiples of 8
  const header& h = c.h;
  if (h.kind == kind_padding) {
    if (off == 0) return invalid("padding record at the start of the data area");
    if (h.length != a.capacity - off) return invalid("padding record does not reach exactly the end of the data area");
    if (h.flags != 0 || h.type_tag != 0) return invalid("padding record with flags or a type tag set");
    if (h.length >= avail) return invalid("padding record not followed by a published record");
    c.kind = checked::kind_t::padding;
    c.size = h.length;
    return c;
  }
  if (h.kind != kind_data) return invalid("unknown record kind");
  if (off + header_size > a.capacity) return invalid("record header crosses the end of the data area");
  if (avail < header_size) return invalid("record header runs past the producer's index");
  std::memcpy(&c.h, a.data + off, header_size);
  if (h.kind != kind_data) return invalid("record changed while it was read");
  if ((h.flags & ~known_flags) != 0) return invalid("record with unknown flag bits");
  if (h.length > a.max_payload) return invalid("record length exceeds the largest record of this ring");
  const std::uint64_t size = size_of(h.length, a.trailer);
  if (off + size > a.capacity) return invalid("record runs past the end of the data area");
  if (size > avail) return invalid("record runs past the producer's index");
  if (h.message_length > max_message_size) return invalid("message length over max_message_size");
  if (h.length > h.message_length) return invalid("record longer than its message");
  const bool first = (h.flags & flag_first_fragment) != 0;
  const bool last = (h.flags & flag_last_fragment) != 0;
  if ((h.flags & flag_resync) != 0 && !first) return invalid("resync flag on a record that does not start a message");
  if (first && last && h.length != h.message_length)
    return invalid("whole-message record whose length is not the message length");
  if (first && !last && (h.length == 0 || h.length >= h.message_length))
    return invalid("first fragment that is empty or not a fragment");
  if (!first && h.length == 0) return invalid("empty continuation fragment");
  if (((h.flags & flag_checksummed) != 0) != (a.trailer != 0))
    return invalid(a.trailer != 0 ? "record without a checksum in a ring of checksummed records"
                                  : "checksummed record in a ring without checksums");
  if (a.trailer != 0) {
    trailer_words t{};
    std::memcpy(&t, a.data + off + size_of(h.length), sizeof t);  // inside [off, off + size): checked above
    if (t.length != h.length) return invalid("record trailer does not repeat the record's length (torn record)");
    if (t.crc != crc32c::of(a.data + off, header_size + std::size_t{h.length}))
      return invalid("record checksum mismatch (torn or unsynced record)");
    if (std::memcmp(&c.h, a.data + off, header_size) != 0) return invalid("record changed while it was read");
  }
  c.kind = checked::kind_t::data;
  c.size = size;
  return c;
}

/// check_full's verdict, with the common case decided inline: a whole message in one record of a ring without
/// checksums, decided on one 32-byte copy. When that copy is a well-formed whole record by check_full's rules
/// (narrowed: both fragment flags, no framing flag else, length equal to the message length, within the record
/// limit, inside the area and the published bytes) it is returned as data. Anything else (padding, fragments,
/// resync, checksums, corruption) goes to check_full, which copies the header again and decides on its own copy
/// alone. Out of line, gcc returned the 56-byte result through memory on every record (docs/benchmarks.md).
[[nodiscard]] inline checked check(const area& a, std::uint64_t off, std::uint64_t avail) noexcept {
  constexpr std::uint8_t whole = flag_first_fragment | flag_last_fragment;
  if (SHMRING_LIKELY(a.trailer == 0 && avail >= header_size && off + header_size <= a.capacity)) {
    checked c;
    std::memcpy(&c.h, a.data + off, header_size);  // [off, off + 32): inside the area and the published bytes
    const header& h = c.h;
    const std::uint64_t size = size_of(h.length);
    // h.length <= max_payload <= max_message_size bounds message_length (equal to it) and keeps size from wrapping.
    if (SHMRING_LIKELY(h.kind == kind_data && (h.flags & ~user_flags) == whole && h.length == h.message_length &&
                       h.length <= a.max_payload && off + size <= a.capacity && size <= avail)) {
      c.kind = checked::kind_t::data;
      c.size = size;
      return c;
    }
  }
  return check_full(a, off, avail);
}

}  // namespace shmring::record
