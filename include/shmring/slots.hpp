// shmring: the slot format a typed ring is created with: turn slots (one cache line per hand-off) or packed slots
// (the densest, for batches). Stored in the ring's header (info_line::slot_format, docs/layout.md "Typed ring data
// area"); both sides of a ring use the one it was created with.
// May touch: nothing. One enum, named by producer<T, S> / consumer<T, S>, ring<T, S> and options::slot_layout.
#pragma once

#include <cstdint>

namespace shmring {

/// How a typed ring lays out its slots.
enum class slots : std::uint8_t {
  /// The default: each element that fits a cache line with an 8-byte turn word gets a slot of its own next to
  /// that word, so a single-element hand-off moves one cache line (the slot's). Bigger elements are packed.
  turn,
  /// Elements back to back, no turn word: the densest format (8-byte elements: 8 to a cache line, not 4), for
  /// rings that move elements in batches (push_n / pop_n). A single-element hand-off reads the producer's index
  /// line, then the slot's.
  packed,
};

}  // namespace shmring
