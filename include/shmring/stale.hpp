// shmring: finding and removing segments that nobody will use again (both sides died, or the creator died
// while setting the segment up), so nobody has to `rm /dev/shm/shmring-*` by hand.
// May touch: segments of this user named shmring-* (opened read-write, admin lock taken briefly, header read,
// name removed). An administrative action: producers and consumers never call it themselves.
//
// WHAT IS STALE
// A segment is stale when no live side is attached (nobody holds the producer's or the consumer's lock byte)
// and either
//   - a side died attached: its slot says "attached" while its lock is free (the kernel dropped the lock of
//     the dead process), or
//   - its header never became ready, nobody holds the admin lock, and it was last sized or created at least
//     stale_setup_grace (2 s) ago: the creator died while setting it up (openers give up on such a segment
//     with errc::not_ready after their open timeout, 2 s by default).
//   - it is drained and not persistent: no side attached, nothing in it. Its last side removes such a segment
//     when it detaches; one that left while another process held the admin lock (stopped, or hostile) could
//     not judge it, and leaves it to this sweep.
// A segment whose sides both detached cleanly is NOT stale while data is in it: that data waits for its
// consumer, which is the documented lifetime. Persistent segments follow the same rules, but are never stale
// merely for being drained.
//
// WHY IT DOES NOT RACE A PROCESS ATTACHING RIGHT NOW
// The verdict and the removal are made while holding the segment's admin lock. Creation holds it from just
// after shm_open until the header is ready, attach holds it while taking its side lock and marking its slot,
// detach while marking its slot. So under the admin lock "lock free + slot attached" means dead. "Not ready"
// has one gap: the few microseconds between a creator's shm_open and its taking the admin lock, when a live
// creator's segment looks abandoned. Two things close it: a not-ready segment is judged only once its
// modification time is stale_setup_grace old (a live creator takes the lock long before), and endpoint::create,
// after locking, checks that the name still refers to its object and creates it again if a sweep removed it
// anyway (a creator stopped for longer than the grace). An opener that loses a race with a sweep sees the name
// gone (errc::not_found) or not ready (errc::not_ready), never a removed segment it believes in.
#pragma once

#include <shmring/config.hpp>
#include <shmring/error.hpp>
#include <shmring/detail/segment.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/snapshot.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

namespace shmring {

/// Anyone. Removes the segment of that name at once, whoever is attached (they keep their mapping). False if there
/// was none. Throws shmring::error (invalid_name; permission_denied: another user's segment, or a symbolic link;
/// not_a_segment: a FIFO, directory... under the name, which stays; system_error).
/// A file-backed ring (a name that is a path) is removed only if the file starts with a ring header's magic and
/// is this user's: removing is the only way a file ring goes (docs/durability.md).
inline bool remove(std::string_view name) {
  return segment::remove(name, std::string_view(reinterpret_cast<const char*>(layout_magic), sizeof layout_magic));
}

/// How long a segment whose header is not ready must have gone unmodified (since its creation or sizing)
/// before it counts as abandoned by its creator.
inline constexpr std::chrono::seconds stale_setup_grace{2};

namespace detail {

/// Whether the object was created or last sized at least stale_setup_grace ago (CLOCK_REALTIME vs its mtime).
inline bool setup_grace_over(const segment& seg) {
  struct stat st{};
  if (::fstat(seg.fd(), &st) != 0) throw error(errc::system_error, seg.name(), "fstat failed", errno);
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  // In whole seconds first: anyone who may write the object may set its mtime to any time, and a year-2445 mtime
  // converted to nanoseconds overflowed (its age wrapped positive: "stale" at once). An mtime in the future is
  // not over its grace.
  const auto sec = [](const timespec& t) { return static_cast<std::int64_t>(t.tv_sec); };
  if (sec(st.st_mtim) > sec(now)) return false;
  const std::uint64_t whole = static_cast<std::uint64_t>(sec(now)) - static_cast<std::uint64_t>(sec(st.st_mtim));
  const auto grace = static_cast<std::uint64_t>(stale_setup_grace.count());
  if (whole != grace) return whole > grace;
  return now.tv_nsec >= st.st_mtim.tv_nsec;  // exactly `grace` whole seconds apart: the nanoseconds decide
}

/// The verdict on a segment whose admin lock the caller holds. Reads only the ready word and the two attach
/// states of the header (atomics, compared with constants: nothing read is trusted further).
inline bool stale_locked(segment& seg) {
  if (seg.locked_by_other(lock_byte::producer) || seg.locked_by_other(lock_byte::consumer)) return false;
  // Never sized: the creator died before posix_fallocate finished (or is still before its admin lock: the grace).
  if (seg.real_size() < sizeof(layout::header)) return setup_grace_over(seg);
  if (seg.mapped_size() < sizeof(layout::header)) seg.map(sizeof(layout::header));
  const auto* h = std::launder(reinterpret_cast<const layout::header*>(seg.data()));
  // SYNC POINT READ: header. Pairs with the creator's release store of ready in endpoint::create().
  if (h->control.ready.load(std::memory_order_acquire) != ready_value) return setup_grace_over(seg);
  constexpr auto attached = static_cast<std::uint32_t>(layout::attach_state::attached);
  // acquire: pairs with the release stores of state in the attachment's take_side() and leave().
  if (h->attach.producer.state.load(std::memory_order_acquire) == attached ||
      h->attach.consumer.state.load(std::memory_order_acquire) == attached)
    return true;
  // Drained and not persistent: what a last detach retires, left behind by one that could not take the admin lock.
  // acquire: pairs with the sides' release stores of their indices (as status() reads them).
  const bool drained = h->head.value.load(std::memory_order_acquire) == h->tail.value.load(std::memory_order_acquire);
  return drained && !layout::read_snapshot(*h).persistent();
}

/// Judges the segment under its admin lock and, if remove and stale, removes its name. Returns the verdict
/// (remove false) or whether it removed the name (remove true). False when there is no such segment or when
/// someone holds its admin lock (creating, attaching or detaching right now: not stale).
inline bool judge_stale(std::string_view name, bool remove) {
  validate_name(name);
  if (is_file_path(name)) return false;  // a file-backed ring is persistent by nature: never stale, never swept
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::optional<segment> seg;
    try {
      seg.emplace(segment::open(name, segment::access::read_write));
    } catch (const error& e) {
      if (e.code() == errc::not_found) return false;
      throw;
    }
    if (!seg->try_lock(lock_byte::admin)) return false;
    if (!seg->still_named()) {  // removed (and perhaps re-created) between our open and our lock: look again
      seg->unlock(lock_byte::admin);
      continue;
    }
    bool result = false;
    try {
      result = stale_locked(*seg);
      if (result && remove) result = seg->unlink_if_still_named();
    } catch (...) {
      seg->unlock(lock_byte::admin);
      throw;
    }
    seg->unlock(lock_byte::admin);
    return result;
  }
  return false;
}

}  // namespace detail

/// Anyone. Whether the segment name is stale: no live side attached, and a side died attached or its creator
/// died before the header was ready (not ready, admin lock free, unmodified for stale_setup_grace). False when there is no such segment or it is being set up, attached or
/// detached right now. Throws shmring::error (invalid_name, permission_denied for another user's segment,
/// not_a_segment for a FIFO, directory... under the name, which stays; system_error).
[[nodiscard]] inline bool is_stale(std::string_view name) { return detail::judge_stale(name, false); }

/// Anyone (an administrative action). Removes the segment name if it is stale (see is_stale); true when it did.
/// Processes that still map it keep their mapping. Throws as is_stale() does.
inline bool remove_stale(std::string_view name) { return detail::judge_stale(name, true); }

/// Anyone (an administrative action). Removes every stale shmring segment of this user (scans
/// /dev/shm/shmring-*) and returns the user names it removed, sorted. Segments it may not judge (another
/// user's, an invalid name) are skipped. Empty where /dev/shm does not exist.
inline std::vector<std::string> remove_stale() {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(dir)) {
      const std::string_view file(e->d_name);
      if (file.size() > object_prefix.size() && file.substr(0, object_prefix.size()) == object_prefix)
        names.emplace_back(file.substr(object_prefix.size()));
    }
    ::closedir(dir);
  }
  std::vector<std::string> removed;
  for (const std::string& name : names) {
    try {
      if (remove_stale(name)) removed.push_back(name);
    } catch (const error&) {
      // not ours to judge (another user's segment, an invalid name, a failing system call): leave it
    }
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace shmring
