// shmring: the byte layout of a segment's header. With layout/record.hpp (the records of a message ring's data
// area) this folder is the whole ABI between processes (and languages): fixed-width fields, explicit cache-line
// alignment, offsets asserted below and documented in docs/layout.md. layout/snapshot.hpp reads a header once
// and validates the copy.
// May touch: nothing. It declares the layout and computes sizes.
#pragma once

#include <shmring/config.hpp>
#include <shmring/slots.hpp>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace shmring {

/// The first 8 bytes of every segment: "SHMRING\0".
inline constexpr std::uint8_t layout_magic[8] = {'S', 'H', 'M', 'R', 'I', 'N', 'G', 0};
/// Bumped whenever any offset, field or record format changes.
inline constexpr std::uint32_t layout_version = 4;  // 3: wait_line::sleeping may say 2 (sleeping_fd)
                                                    // 4: typed rings' turn slots (info_line +56/+60);
                                                    //    file-backed rings (segment flags 2 and 4) and their
                                                    //    checksummed message records (record flag 0x40, trailer)
/// The value the creator release-stores into `control_line::ready` once the header is complete: "REDY".
inline constexpr std::uint32_t ready_value = 0x59444552u;
/// Largest capacity accepted for a typed ring (elements) and a message ring (bytes): 2^40.
inline constexpr std::uint64_t max_capacity = std::uint64_t{1} << 40;

/// What the data area of a segment holds.
enum class segment_kind : std::uint32_t {
  typed = 1,    ///< fixed-size elements (shmring::producer<T> / consumer<T>)
  message = 2,  ///< framed variable-length records (shmring::message_producer / message_consumer)
};

/// Flags in info_line::flags.
enum segment_flags : std::uint32_t {
  flag_persistent = 1u << 0,  ///< never removed automatically; only by shmring::remove or remove_stale
  flag_file_backed = 1u << 1,  ///< layout 4: the ring lives in a regular file named by a path (always persistent)
  flag_record_checksums = 1u << 2,  ///< layout 4: message rings only: every data record carries flag_checksummed
                                    ///< and an 8-byte CRC-32C trailer (layout/record.hpp); set with file_backed
};

namespace layout {

/// Line 0. Written by the creator before `ready`, read-only afterwards.
struct alignas(cache_line) control_line {
  std::uint8_t magic[8];              // "SHMRING\0"
  std::uint32_t version;              // layout_version
  std::uint32_t kind;                 // segment_kind
  std::atomic<std::uint32_t> ready;   // 0 while the creator works; ready_value once the header is complete
  std::uint32_t cache_line_size;      // shmring::cache_line of the creator's build
  std::uint32_t element_size;         // typed: sizeof(T); message: 1 (capacity is in bytes)
  std::uint32_t element_align;        // typed: alignof(T); message: record alignment (8)
  std::uint64_t capacity;             // typed: elements; message: bytes. A power of two.
  std::uint64_t data_offset;          // bytes from the segment start to the data area
  std::uint64_t segment_size;         // bytes the whole segment declares (data_offset + data bytes)
  std::uint64_t initial_index;        // the index of the first element or byte ever written
};

/// Lines 1 and 2: one monotonically increasing 64-bit index each, never wrapped; slot = index & (capacity - 1).
struct alignas(cache_line) index_line {
  std::atomic<std::uint64_t> value;
};

/// Lines 3 and 4: counters of one side, written only by that side (relaxed), read by anyone for status().
struct alignas(cache_line) stats_line {
  std::atomic<std::uint64_t> messages;     // message rings: records completed (typed rings derive it from the index)
  std::atomic<std::uint64_t> bytes;        // message rings: payload bytes (typed rings derive it)
  std::atomic<std::uint64_t> stalls;       // producer: found the ring full; consumer: found it empty
  std::atomic<std::uint64_t> wake_calls;   // futex wake system calls this side made for the peer
  std::atomic<std::uint64_t> sleeps;       // futex wait system calls this side made
  std::atomic<std::uint64_t> reserved[3];
};

/// Lines 5 and 6: the futex word a side sleeps on and its "someone is sleeping" indication.
/// Line 5 is the consumer's (it sleeps while empty), line 6 the producer's (it sleeps while full).
struct alignas(cache_line) wait_line {
  std::atomic<std::uint32_t> seq;       // futex word: the waker increments it before FUTEX_WAKE
  std::atomic<std::uint32_t> sleeping;  // 1 from just before the owner re-checks the ring until it wakes;
                                        // sleeping_fd (2) while it waits on its descriptor instead
  std::atomic<std::uint64_t> wake_nonce;  // layout 3: the random part of the owner's wake address (event/), 0: none
};
/// wait_line::sleeping: 0 awake, 1 asleep on the futex, sleeping_fd asleep on its event descriptor (layout 3).
inline constexpr std::uint32_t sleeping_futex = 1;
inline constexpr std::uint32_t sleeping_fd = 2;

/// One side's record in line 7. Informational: liveness itself is decided by a kernel file lock, see docs.
struct attach_slot {
  std::atomic<std::uint32_t> state;         // attach_state
  std::atomic<std::uint32_t> pid;           // pid in the attacher's namespace (display only)
  std::atomic<std::uint64_t> start_time;    // the attacher's start time, clock ticks since boot (display only)
  std::atomic<std::uint64_t> attach_count;  // how many times this side has attached
  std::atomic<std::uint64_t> attach_ns;     // CLOCK_REALTIME of the last attach, nanoseconds
};

enum class attach_state : std::uint32_t {
  never = 0,     ///< no process has attached on this side yet
  attached = 1,  ///< attached; if its lock is free, it died without detaching
  detached = 2,  ///< the last one detached cleanly
  closed = 3,    ///< the last one closed its side: end of stream (producer) or a reader that has left (consumer)
};

/// Line 7.
struct alignas(cache_line) attach_line {
  attach_slot producer;
  attach_slot consumer;
};

/// Line 8. Written by the creator before `ready`.
struct alignas(cache_line) info_line {
  std::uint64_t created_ns;   // CLOCK_REALTIME at creation, nanoseconds
  std::uint32_t flags;        // segment_flags
  std::uint32_t creator_uid;  // the owner; an opener refuses a segment owned by someone else
  std::uint8_t type_name[40]; // typed rings: the element type's declared name (shmring_type_name), NUL-padded;
                              // all zero when the type declares none. Message rings: zero.
  std::uint32_t slot_stride;  // layout 4, typed rings: bytes per slot (typed_slot_shape); message rings: 0
  std::uint32_t slot_format;  // layout 4, typed rings: slot_format (0 packed, 1 turn); message rings: 0
};

/// The whole header: nine lines, then the data area at `data_offset`.
struct header {
  control_line control;   // line 0
  index_line head;        // line 1: written by the producer only
  index_line tail;        // line 2: written by the consumer only
  stats_line producer_stats;  // line 3
  stats_line consumer_stats;  // line 4
  wait_line consumer_wait;    // line 5: the consumer sleeps here while the ring is empty
  wait_line producer_wait;    // line 6: the producer sleeps here while the ring is full
  attach_line attach;         // line 7
  info_line info;             // line 8
};

// ---- The ABI, asserted. docs/layout.md lists the same numbers for cache_line == 64. ----
static_assert(std::is_standard_layout_v<header>, "the header is shared between processes: standard layout only");
static_assert(sizeof(control_line) == cache_line && sizeof(index_line) == cache_line &&
              sizeof(stats_line) == cache_line && sizeof(wait_line) == cache_line &&
              sizeof(attach_line) == cache_line && sizeof(info_line) == cache_line,
              "every header part is exactly one cache line");
static_assert(sizeof(attach_slot) == 32);
static_assert(offsetof(control_line, magic) == 0);
static_assert(offsetof(control_line, version) == 8);
static_assert(offsetof(control_line, kind) == 12);
static_assert(offsetof(control_line, ready) == 16);
static_assert(offsetof(control_line, cache_line_size) == 20);
static_assert(offsetof(control_line, element_size) == 24);
static_assert(offsetof(control_line, element_align) == 28);
static_assert(offsetof(control_line, capacity) == 32);
static_assert(offsetof(control_line, data_offset) == 40);
static_assert(offsetof(control_line, segment_size) == 48);
static_assert(offsetof(control_line, initial_index) == 56);
static_assert(offsetof(stats_line, messages) == 0 && offsetof(stats_line, bytes) == 8 &&
              offsetof(stats_line, stalls) == 16 && offsetof(stats_line, wake_calls) == 24 &&
              offsetof(stats_line, sleeps) == 32);
static_assert(offsetof(wait_line, seq) == 0 && offsetof(wait_line, sleeping) == 4 && offsetof(wait_line, wake_nonce) == 8);
static_assert(sleeping_futex == 1 && sleeping_fd == 2, "docs/layout.md: the values of wait_line::sleeping (layout 3)");
static_assert(offsetof(attach_slot, state) == 0 && offsetof(attach_slot, pid) == 4 &&
              offsetof(attach_slot, start_time) == 8 && offsetof(attach_slot, attach_count) == 16 &&
              offsetof(attach_slot, attach_ns) == 24);
static_assert(offsetof(attach_line, producer) == 0 && offsetof(attach_line, consumer) == 32);
static_assert(offsetof(info_line, created_ns) == 0 && offsetof(info_line, flags) == 8 &&
              offsetof(info_line, creator_uid) == 12 && offsetof(info_line, type_name) == 16 &&
              offsetof(info_line, slot_stride) == 56 && offsetof(info_line, slot_format) == 60);
/// The longest element type name a segment stores (info_line::type_name).
inline constexpr std::size_t max_type_name = sizeof(info_line::type_name);
static_assert(offsetof(header, control) == 0 * cache_line);
static_assert(offsetof(header, head) == 1 * cache_line);
static_assert(offsetof(header, tail) == 2 * cache_line);
static_assert(offsetof(header, producer_stats) == 3 * cache_line);
static_assert(offsetof(header, consumer_stats) == 4 * cache_line);
static_assert(offsetof(header, consumer_wait) == 5 * cache_line);
static_assert(offsetof(header, producer_wait) == 6 * cache_line);
static_assert(offsetof(header, attach) == 7 * cache_line);
static_assert(offsetof(header, info) == 8 * cache_line);
static_assert(sizeof(header) == 9 * cache_line);
static_assert(cache_line != 64 || sizeof(header) == 576, "docs/layout.md: the header is 576 bytes on x86-64");

/// Where the data area starts for elements of the given alignment.
constexpr std::uint64_t data_offset_for(std::uint64_t element_align) noexcept {
  const std::uint64_t a = element_align > cache_line ? element_align : cache_line;
  return (sizeof(header) + a - 1) / a * a;
}

/// How a typed ring's slot holds its element (info_line::slot_format, docs/layout.md "Typed ring data area").
enum class slot_format : std::uint32_t {
  packed = 0,  ///< the element alone, slots of element_size bytes back to back (elements too big for "turn", and
               ///< every ring created with slots::packed)
  turn = 1,    ///< a 64-bit turn word at +0 and the element at +element_offset, in a slot that divides a line
};

/// The shape of one slot of a typed ring: decided from the element's size and alignment, the cache line and the
/// creator's choice of format (shmring::slots), so creator and opener compute the same one (the header stores it,
/// and an opener checks it against its own).
struct slot_shape {
  slot_format format;
  std::uint32_t stride;          ///< bytes from one slot to the next
  std::uint32_t element_offset;  ///< bytes from the slot's start to the element (0 for packed)
};

/// The turn format wherever the element and its 8-byte word fit a cache line: element at E = max(8, align), stride
/// bit_ceil(E + size) (a divisor of the line, so with the line-aligned data area no slot straddles two lines).
/// Otherwise, and whenever the creator chose slots::packed, packed. size and align as a typed expectation has them
/// (size a multiple of align, align <= 4096).
constexpr slot_shape typed_slot_shape(std::uint64_t size, std::uint64_t align, slots choice = slots::turn) noexcept {
  const std::uint64_t e = align > 8 ? align : 8;
  if (choice == slots::turn && size != 0 && size <= cache_line && e + size <= cache_line)  // (0 bytes: refused)
    return {slot_format::turn, static_cast<std::uint32_t>(std::bit_ceil(e + size)), static_cast<std::uint32_t>(e)};
  return {slot_format::packed, static_cast<std::uint32_t>(size), 0};
}
static_assert(cache_line != 64 || (typed_slot_shape(8, 8).stride == 16 && typed_slot_shape(4, 4).stride == 16 &&
                                   typed_slot_shape(1, 1).stride == 16 && typed_slot_shape(24, 8).stride == 32 &&
                                   typed_slot_shape(48, 16).stride == 64 && typed_slot_shape(56, 8).stride == 64 &&
                                   typed_slot_shape(64, 8).format == slot_format::packed &&
                                   typed_slot_shape(32, 32).stride == 64),
              "docs/layout.md: the slot shapes of the examples in \"Typed ring data area\"");
static_assert(typed_slot_shape(8, 8, slots::packed).format == slot_format::packed &&
              typed_slot_shape(8, 8, slots::packed).stride == 8 &&
              typed_slot_shape(8, 8, slots::packed).element_offset == 0);

/// The reserved words of the stats lines that message rings use (docs/layout.md, "Message ring data area").
namespace stats_word {
inline constexpr std::size_t next_sequence = 0;  ///< producer line +40: sequence of the next message
inline constexpr std::size_t flags = 1;          ///< both lines +48: bit 0 = this side found the ring corrupted
inline constexpr std::size_t aborted = 2;        ///< producer line +56: fragmented messages given up half-sent
inline constexpr std::size_t dropped = 0;        ///< consumer line +40: partial messages the consumer dropped
inline constexpr std::size_t delivered = 2;      ///< consumer line +56: sequence after the last message released
inline constexpr std::uint64_t flag_corrupted = 1;
}  // namespace stats_word
static_assert(offsetof(stats_line, reserved) == 40, "docs/layout.md: the message-ring stats words start at +40");

}  // namespace layout
}  // namespace shmring
