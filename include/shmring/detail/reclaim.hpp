// shmring: what happens to a segment before a side attaches: its size for an expectation, waiting for a creator
// to make it ready, and reclaiming one whose creator died setting it up (create and open_or_create).
// May touch: the segment (open, map its header, its admin lock, unlink it if abandoned), the header's ready word.
// It knows of the attach protocol only that a live creator holds the admin lock until ready (attachment.hpp).
#pragma once

#include <shmring/detail/proc.hpp>
#include <shmring/detail/segment.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/options.hpp>
#include <shmring/wait.hpp>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <string_view>

namespace shmring::detail {

/// The size of a new segment for this expectation; errc::invalid_argument for a capacity that is not a power of two
/// in [1, 2^40], or a data area over 2^46 bytes.
inline std::uint64_t checked_size(std::string_view name, const layout::expectation& e) {
  if (e.capacity == 0 || !std::has_single_bit(e.capacity) || e.capacity > max_capacity)
    throw error(errc::invalid_argument, name,
                "capacity " + std::to_string(e.capacity) + " is not a power of two in [1, 2^40]" +
                    (e.capacity > 1 && e.capacity <= max_capacity ? "; use " + std::to_string(std::bit_ceil(e.capacity)) : std::string()));
  const std::uint64_t unit = layout::data_shape_for(e).unit;  // typed: the slot stride (layout 4)
  if (unit == 0 || e.capacity > (std::uint64_t{1} << 46) / unit)
    throw error(errc::invalid_argument, name, "capacity times slot size exceeds 2^46 bytes");
  return layout::data_offset_for(e.element_align) + e.capacity * unit;
}

/// Whether the segment is big enough for a header whose ready word says ready (maps the header if needed).
inline bool header_ready(segment& seg) {
  if (seg.real_size() < sizeof(layout::header)) return false;
  if (seg.mapped_size() < sizeof(layout::header)) seg.map(sizeof(layout::header));
  const auto* h = std::launder(reinterpret_cast<const layout::header*>(seg.data()));
  // SYNC POINT READ: header. Pairs with the creator's release store of ready in create().
  return h->control.ready.load(std::memory_order_acquire) == ready_value;
}

/// create() found the name taken. Throws errc::already_exists if that segment is ready (or not ours to judge:
/// another user's, or writable by others), errc::not_ready if it stays unready while someone holds its admin
/// lock (a live creator, stopped or slow). Otherwise it was abandoned by a creator that died setting it up:
/// a live creator takes the admin lock right after shm_open and makes the header ready within microseconds,
/// so a segment still not ready after the whole open_timeout, with the admin lock free, has no creator. It is
/// removed under the admin lock (so no opener or sweep acts on it meanwhile) and the caller creates anew.
/// A creator that was merely stopped between shm_open and its lock finds its name gone when it resumes and
/// creates again (the still_named check in create()).
inline void reclaim_abandoned(std::string_view name, const options& o) {
  std::optional<segment> seg;
  try {
    seg.emplace(segment::open(name, segment::access::read_write));
  } catch (const error& x) {
    if (x.code() == errc::not_found) return;  // removed meanwhile: the name is free
    // Another user's object, one others may write, a symlink: the name is taken and not ours to judge.
    throw error(errc::already_exists, name,
                std::string("the name is taken by an object this user may not reclaim: ") + x.what(), EEXIST);
  }
  const auto deadline = deadline_after(o.open_timeout);
  for (unsigned i = 0;; ++i) {
    if (header_ready(*seg)) throw error(errc::already_exists, name, "a segment of that name exists", EEXIST);
    if (std::chrono::steady_clock::now() >= deadline) break;
    backoff(i);
  }
  // Someone holds the admin lock: most often another process reclaiming the same segment right now (it holds the
  // lock only while it judges and removes), or a creator that is alive but slow. Wait for it as an opener would;
  // only a holder that keeps it for a whole open_timeout more is a live creator we must not judge.
  if (!seg->try_lock(lock_byte::admin) && !seg->lock_until(lock_byte::admin, deadline_after(o.open_timeout)))
    throw error(errc::not_ready, name,
                "a segment of that name exists and its creator, still holding it, has not made it ready");
  bool ready = false;
  try {
    ready = header_ready(*seg);
    if (!ready) (void)seg->unlink_if_still_named();  // if the name now refers to another object, leave it
  } catch (...) {
    seg->unlock(lock_byte::admin);
    throw;
  }
  seg->unlock(lock_byte::admin);
  if (ready) throw error(errc::already_exists, name, "a segment of that name exists", EEXIST);
}

/// segment::create, except that a segment of that name left behind by a creator that died before making it
/// ready is removed and created anew (see reclaim_abandoned). A ready segment stays: errc::already_exists.
inline segment create_or_reclaim(std::string_view name, std::uint64_t size, const options& o) {
  for (int attempt = 0;; ++attempt) {
    try {
      return segment::create(name, size);
    } catch (const error& x) {
      if (x.code() != errc::already_exists || attempt >= 8) throw;
    }
    reclaim_abandoned(name, o);  // returns once the name is free again, or throws
  }
}

/// Waits (yielding, then sleeping 200 us a round) until the segment's header is marked ready and returns it, mapped;
/// errc::not_ready at the deadline, saying whether the creator had not even sized the segment.
inline layout::header* wait_ready(segment& seg, std::chrono::steady_clock::time_point deadline) {
  for (unsigned i = 0;; ++i) {
    const std::uint64_t size = seg.real_size();
    if (size >= sizeof(layout::header)) {
      if (seg.mapped_size() < sizeof(layout::header)) seg.map(sizeof(layout::header));
      auto* h = std::launder(reinterpret_cast<layout::header*>(seg.data()));
      // SYNC POINT READ: header. Pairs with the creator's release store of ready in create().
      if (h->control.ready.load(std::memory_order_acquire) == ready_value) return h;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw error(errc::not_ready, seg.name(),
                  size < sizeof(layout::header)
                      ? "the segment is " + std::to_string(size) + " bytes, smaller than a header: its creator has not sized it (or died)"
                      : std::string("the header is not marked ready: its creator has not finished (or died)"));
    backoff(i);
  }
}

}  // namespace shmring::detail
