// shmring: how a producer or consumer is created or opened (options), and which side it is.
// May touch: nothing. Plain values.
#pragma once

#include <shmring/durability.hpp>
#include <shmring/slots.hpp>
#include <shmring/wait.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace shmring {

/// Which side of a ring.
enum class side : std::uint8_t { producer, consumer };

/// Whether this process maps the segment with 2 MiB transparent huge pages (options::memory.huge_pages).
enum class huge_pages : std::uint8_t {
  off,      ///< the kernel's default pages (4 KiB on a tmpfs mounted without huge=)
  prefer,   ///< try (MADV_HUGEPAGE, then MADV_COLLAPSE); memory_status says what was obtained, nothing throws
  require,  ///< as prefer, but errc::unsupported when not every whole 2 MiB extent of the segment is a huge page
};

/// What a process does to its mapping of the segment at attach (create or open). Each process decides for its own
/// mapping; the segment's bytes and layout are the same either way. README "Memory options"; detail/memory.hpp.
struct memory_options {
  /// Map every page at attach (MADV_POPULATE_WRITE, or a read of each page on kernels without it), so the first
  /// push or pop of each page does not take a page fault. The memory itself was allocated at create.
  bool prefault = false;
  /// mlock() the mapping: never swapped out, never faulted in again (implies prefault). errc::limit_exceeded,
  /// naming the limit and the size, when RLIMIT_MEMLOCK (ulimit -l) is smaller than what would be locked.
  bool lock = false;
  /// Transparent huge pages for the segment's whole 2 MiB extents (the mapping is then 2 MiB aligned and
  /// prefaulted, so that memory_status can say how many bytes are in huge pages).
  huge_pages huge = huge_pages::off;
};

/// What memory_options did to this process's mapping (ring_status::memory; endpoints' status() only).
struct memory_status {
  bool applied = false;             ///< false in shmring::status(name), which maps only the header, read-only
  bool prefaulted = false;          ///< every page was mapped at attach
  bool locked = false;              ///< the mapping is mlock()ed
  huge_pages huge = huge_pages::off;  ///< what was asked
  std::uint64_t huge_bytes = 0;     ///< bytes of the mapping in 2 MiB pages now (/proc/self/smaps ShmemPmdMapped)
  std::string huge_note;            ///< why huge pages were not (all) obtained, "" when they were or were not asked
};

/// How a producer or consumer is created or opened.
struct options {
  /// How waiting calls wait (push, pop, send, receive and their _for forms).
  wait_options wait{};
  /// How long open() waits for a creator that has not finished setting the segment up (errc::not_ready after),
  /// and how long create() watches a not-ready segment of its name before reclaiming it as abandoned. Saturated
  /// where it meets the clock: nanoseconds::max() waits for ever, zero or less tries once.
  std::chrono::nanoseconds open_timeout = std::chrono::seconds(2);
  /// Keep the segment when both sides have detached and it is empty (default: remove it then).
  bool persistent = false;
  /// create only: the index of the first element or byte (tests start near 2^64 to prove the wrap-around).
  std::uint64_t first_index = 0;
  /// Message producers only: stamp each record with CLOCK_MONOTONIC in ns: the TSC calibrated against it where the
  /// TSC is invariant and the kernel's clocksource is "tsc" (a few ns from the clock; detail/clock.hpp), one
  /// vDSO clock read per message elsewhere. false stores 0 instead. Each producer decides for its records.
  bool timestamps = true;
  /// Prefault, lock and huge pages for this process's mapping of the segment.
  memory_options memory{};
  /// Producers of a file-backed ring (a name that is a path) only: when what they write is forced to storage
  /// (docs/durability.md). Ignored by consumers and on /dev/shm rings.
  sync_policy durability = sync_policy::none;
  /// dynamic_producer / dynamic_consumer only, when they create the ring: its slot format (producer<T, S> and
  /// consumer<T, S> take it as S instead). They open a ring of either format.
  slots slot_layout = slots::turn;
};

}  // namespace shmring
