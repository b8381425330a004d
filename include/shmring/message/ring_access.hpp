// shmring: how a message producer or consumer reaches its ring in a segment: the expectation it opens with, the
// checks layout::validate cannot make for a message ring, the ring memory from the validated snapshot, and the
// message-ring words of the stats lines.
// May touch: the attachment's snapshot (read), its stats line (the message-ring words).
#pragma once

#include <shmring/detail/attachment.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/record.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/options.hpp>
#include <shmring/ring/byte_memory.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shmring::detail {

inline layout::expectation message_expectation(std::uint64_t capacity) noexcept {
  return {segment_kind::message, 1, record::alignment, capacity};
}

inline void check_message_create(std::string_view name, std::uint64_t capacity, const options& o) {
  if (capacity < min_message_capacity && capacity != 0)
    throw error(errc::invalid_argument, name,
                "a message ring needs a capacity of at least " + std::to_string(min_message_capacity) + " bytes, not " +
                    std::to_string(capacity));
  if (o.first_index % record::alignment != 0)
    throw error(errc::invalid_argument, name, "first_index of a message ring must be a multiple of 8");
}

/// What layout::validate cannot know of a message ring, checked on the snapshot. Throws errc::corrupted.
inline void check_message_ring(std::string_view name, const layout::header_snapshot& snap) {
  if (!record::valid_capacity(snap.capacity))
    throw error(errc::corrupted, name, "message ring capacity " + std::to_string(snap.capacity) + " is under 128 bytes");
  if (snap.initial_index % record::alignment != 0)
    throw error(errc::corrupted, name, "message ring initial index " + std::to_string(snap.initial_index) + " is not a multiple of 8");
}

/// The ring over the data area, sized from the validated snapshot (never from the shared header). Checks it first.
inline byte_ring_memory message_memory(const attachment& ep) {
  check_message_ring(ep.name(), ep.snapshot());
  auto& h = ep.header();
  const bool checksums = (ep.snapshot().flags & flag_record_checksums) != 0;
  return {&h.head.value, ep.tail_for_writer(), ep.data(), ep.snapshot().capacity, checksums ? record::trailer_size : 0u};
}

inline std::atomic<std::uint64_t>& stat_word(layout::stats_line& l, std::size_t i) noexcept { return l.reserved[i]; }

inline void mark_corrupted(layout::stats_line& l) noexcept {
  auto& w = stat_word(l, layout::stats_word::flags);
  w.store(w.load(std::memory_order_relaxed) | layout::stats_word::flag_corrupted, std::memory_order_relaxed);
}

[[noreturn]] inline void throw_too_large(const attachment& ep, std::uint64_t n) {
  throw error(errc::message_too_large, ep.name(),
              "a payload of " + std::to_string(n) + " bytes is over max_message_size (" + std::to_string(max_message_size) + ")");
}

}  // namespace shmring::detail
