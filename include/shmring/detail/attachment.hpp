// shmring: the attach, liveness and lifetime protocol: one side's attachment to a segment, shared by the typed and
// the message producer/consumer.
// May touch: the segment (create/open/map/locks), the header's control, index (at attach only), attach and
// info lines. It joins detail/segment.hpp (which knows nothing of rings) and layout/ (which knows no system calls).
// The header's fixed fields are read ONCE, into a private snapshot (layout/snapshot.hpp); every size, capacity
// and offset an attachment hands out comes from that snapshot, never from a second read of shared memory.
// Longer than 400 lines on purpose: attach, liveness, leaving and the three process events that end an attachment
// (fork, a termination signal, a truncated segment) share one set of orderings (lock before state, state before
// unlock), which must be read in one place; creation and reclaim are apart (detail/reclaim.hpp).
//
// ATTACH AND LIFETIME
// - Each side holds an OFD lock on its byte of the shm object while attached (lock_byte::producer/consumer);
//   a second live producer (or consumer) fails to take it: errc::already_attached. The kernel drops the lock
//   when the process dies, so a lock that is free while the slot still says "attached" means the side died.
// - Attach and detach run under the admin lock (lock_byte::admin), which the creator also holds until the
//   header is ready, so an opener never races a creator or a detacher that is retiring the segment.
// - close() ends this side's stream: the slot says closed (released after everything this side published), the
//   lock is dropped and a sleeping peer is woken. The peer's waiting calls, once they have everything, end with
//   errc::closed; its observers say peer_state::closed. A later attach on the same side starts a new stream
//   (the slot says attached again). detach() (and the destructor) leaves instead: the peer waits for a restart.
// - A segment lives until it is drained: when a side detaches cleanly, the peer is not attached and the ring
//   is empty, the detaching side removes the name. Data pushed by a producer that exits before any consumer
//   opened the ring therefore waits in the segment for the consumer. options::persistent keeps it always;
//   shmring::remove(name) removes it at once.
#pragma once

#include <shmring/config.hpp>
#include <shmring/error.hpp>
#include <shmring/detail/memory.hpp>
#include <shmring/detail/proc.hpp>
#include <shmring/detail/file_sync.hpp>
#include <shmring/detail/reclaim.hpp>
#include <shmring/detail/recovery.hpp>
#include <shmring/detail/registry.hpp>
#include <shmring/detail/segment.hpp>
#include <shmring/event/arming.hpp>
#include <shmring/event/channel.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/options.hpp>
#include <shmring/wait.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <pthread.h>
#include <unistd.h>

namespace shmring {

namespace detail {

/// Adds to a counter only this side writes: a relaxed load and store, no read-modify-write needed.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline lock_byte lock_of(side s) noexcept { return s == side::producer ? lock_byte::producer : lock_byte::consumer; }
inline side other(side s) noexcept { return s == side::producer ? side::consumer : side::producer; }
inline const char* side_name(side s) noexcept { return s == side::producer ? "producer" : "consumer"; }

class attachment final : private registrant {
 public:
  /// Creates the segment (errc::already_exists if taken) and attaches as side s.
  static attachment create(std::string_view name, side s, const layout::expectation& e, const options& o) {
    validate_name(name);
    const std::uint64_t size = checked_size(name, e);
    std::unique_ptr<segment> seg;
    for (int attempt = 0;; ++attempt) {
      seg = std::make_unique<segment>(create_or_reclaim(name, size, o));
      // Held until the header is ready. Between shm_open and this lock the new object looks "never ready,
      // admin free": if this process stalls here (stopped, preempted for seconds), remove_stale() or another
      // creator's reclaim_abandoned() may judge it abandoned, hold its admin lock, or have removed the name.
      // So wait for the lock (never try once and unlink: the name may be someone else's by now), then check
      // that the name is still ours, and create anew if it is not.
      const auto deadline = deadline_after(o.open_timeout);
      if (!seg->lock_until(lock_byte::admin, deadline)) {
        (void)seg->unlink_if_still_named();
        throw error(errc::system_error, name, "could not lock the new segment");
      }
      if (seg->still_named()) break;
      // A stale sweep removed our new object before we locked it: the name is free again, create anew.
      seg->unlock(lock_byte::admin);
      if (attempt >= 8) throw error(errc::system_error, name, "the new segment kept being removed while creating it");
    }
    memory_status mem;
    try {  // options::memory: before the header exists, so a refusal leaves nothing behind
      if (mapping_alignment(o.memory) != 0) seg->map(size, mapping_alignment(o.memory));
      mem = apply_memory_options(*seg, o.memory);
    } catch (...) {
      (void)seg->unlink_if_still_named();
      throw;
    }
    at_creation_step(creation_step::admin_locked);
    auto* h = ::new (static_cast<void*>(seg->data())) layout::header;  // the memory is zero (posix_fallocate)
    layout::header_snapshot snap;
    std::memcpy(snap.magic, layout_magic, sizeof layout_magic);
    snap.version = layout_version;
    snap.kind = static_cast<std::uint32_t>(e.kind);
    snap.cache_line_size = static_cast<std::uint32_t>(cache_line);
    snap.element_size = e.element_size;
    snap.element_align = e.element_align;
    snap.slot_stride = layout::data_shape_for(e).slot_stride;  // layout 4: typed rings' slot shape
    snap.slot_format = layout::data_shape_for(e).slot_format;
    snap.capacity = e.capacity;
    snap.data_offset = layout::data_offset_for(e.element_align);
    snap.segment_size = size;
    snap.initial_index = o.first_index;
    snap.created_ns = realtime_ns();
    snap.flags = o.persistent ? flag_persistent : 0u;
    if (seg->file_backed()) {  // persistent by nature; its message records checksummed (docs/durability.md)
      snap.flags |= flag_persistent | flag_file_backed;
      if (e.kind == segment_kind::message) snap.flags |= flag_record_checksums;
    }
    snap.creator_uid = static_cast<std::uint32_t>(::geteuid());
    if (!e.type_name.empty())  // (an empty view's data() may be null, which memcpy may not be given)
      std::memcpy(snap.type_name, e.type_name.data(), std::min(e.type_name.size(), layout::max_type_name));
    layout::write_snapshot(*h, snap);
    h->head.value.store(o.first_index, std::memory_order_relaxed);
    h->tail.value.store(o.first_index, std::memory_order_relaxed);
    at_creation_step(creation_step::header_written);
    attachment ep(std::move(seg), h, snap, s, o);
    ep.memory_ = std::move(mem);
    ep.take_side(/*fresh=*/true);
    at_creation_step(creation_step::side_taken);
    // SYNC POINT WRITE: header. Pairs with the acquire load of ready in open(); every field above is visible
    // to an opener that sees ready_value.
    h->control.ready.store(ready_value, std::memory_order_release);
    ep.seg_->unlock(lock_byte::admin);
    return ep;
  }

  /// Opens an existing segment and attaches as side s. e.capacity 0 accepts any capacity.
  static attachment open(std::string_view name, side s, const layout::expectation& e, const options& o) {
    validate_name(name);
    const auto deadline = deadline_after(o.open_timeout);
    for (int attempt = 0;; ++attempt) {
      auto seg = std::make_unique<segment>(segment::open(name, segment::access::read_write));
      // The fixed fields are read once, here; everything below uses the validated copy.
      const layout::header_snapshot snap = layout::read_snapshot(*wait_ready(*seg, deadline));
      layout::validate(snap, seg->real_size(), e, name);
      seg->map(snap.segment_size, mapping_alignment(o.memory));
      memory_status mem = apply_memory_options(*seg, o.memory);
      auto* h = std::launder(reinterpret_cast<layout::header*>(seg->data()));
      if (!seg->lock_until(lock_byte::admin, deadline))
        throw error(errc::not_ready, name, "another process held the segment's admin lock past the open timeout");
      if (!seg->still_named()) {  // a detaching side retired it between our open and our lock: start again
        seg->unlock(lock_byte::admin);
        if (attempt < 8) continue;
        throw error(errc::not_found, name, "the segment kept being removed while opening it");
      }
      if (!seg->try_lock(lock_of(s))) {
        seg->unlock(lock_byte::admin);
        throw error(errc::already_attached, name, std::string("a live ") + side_name(s) + " is attached already");
      }
      attachment ep(std::move(seg), h, snap, s, o);
      ep.memory_ = std::move(mem);
      std::uint64_t head = h->head.value.load(std::memory_order_acquire);
      const std::uint64_t tail = h->tail.value.load(std::memory_order_acquire);
      if (head - tail > snap.capacity) {
        ep.seg_->unlock(lock_of(s));
        ep.seg_->unlock(lock_byte::admin);
        ep.attached_.store(false, std::memory_order_relaxed);
        throw error(errc::corrupted, name,
                    "indices are inconsistent: head " + std::to_string(head) + ", tail " + std::to_string(tail) +
                        ", capacity " + std::to_string(snap.capacity));
      }
      // A file-backed message ring with no live producer may hold what a crash left (docs/durability.md):
      // cut head back to the last whole valid message before anyone reads or writes on.
      if ((snap.flags & flag_record_checksums) != 0 && snap.kind == static_cast<std::uint32_t>(segment_kind::message) &&
          (s == side::producer || !ep.seg_->locked_by_other(lock_byte::producer))) {
        ep.recovery_ = recover_message_ring(*h, snap, ep.data());
        head = ep.recovery_.head_after;
      }
      // A file-backed typed ring of turn slots likewise: head back to the last element whose turn says it is whole.
      // Only while the other side is not alive either: a live consumer may have taken elements by head alone (a
      // producer killed between its head and turn stores, docs/layout.md) and must never see head move back
      // under what it has cached. A live side also means no power cut since it attached, so nothing is torn.
      if ((snap.flags & flag_file_backed) != 0 && snap.kind == static_cast<std::uint32_t>(segment_kind::typed) &&
          !ep.seg_->locked_by_other(s == side::producer ? lock_byte::consumer : lock_byte::producer)) {
        ep.recovery_ = recover_typed_ring(*h, snap, ep.data());
        head = ep.recovery_.head_after;
      }
      ep.synced_head_ = head;
      ep.take_side(/*fresh=*/false);
      ep.seg_->unlock(lock_byte::admin);
      return ep;
    }
  }

  /// Opens the segment if it exists, creates it otherwise (races with another open_or_create are resolved).
  /// A segment that stays not ready for open_timeout is handed to create(), which reclaims it if its creator
  /// died setting it up (so this takes at least twice open_timeout); a live creator still holding it gives
  /// not_ready. Races (the segment removed or made ready meanwhile) send it round again: at most 8 rounds.
  static attachment open_or_create(std::string_view name, side s, const layout::expectation& e, const options& o) {
    for (int attempt = 0;; ++attempt) {
      bool unready = false;
      try {
        layout::expectation existing = e;
        existing.capacity = 0;  // an existing segment is opened whatever its capacity: e.capacity is for creating
        return open(name, s, existing, o);
      } catch (const error& x) {
        // Once only: a segment that becomes ready meanwhile sends us round again, and must then open.
        unready = x.code() == errc::not_ready && attempt == 0;
        if (!unready && (x.code() != errc::not_found || attempt >= 8)) throw;
      }
      try {
        return create(name, s, e, o);
      } catch (const error& x) {
        if (x.code() != errc::already_exists || attempt >= 8) throw;  // not_ready: its creator is alive
      }
    }
  }

  attachment(attachment&& o) noexcept
      : registrant(o), seg_(std::move(o.seg_)), hdr_(o.hdr_), snap_(o.snap_), side_(o.side_), opts_(o.opts_),
        attached_(o.attached_.exchange(false, std::memory_order_acq_rel)), inherited_(o.inherited_),
        poison_(o.poison_), poison_ctx_(o.poison_ctx_), slot_(std::exchange(o.slot_, nullptr)),
        memory_(std::move(o.memory_)), my_addr_(o.my_addr_), peer_addr_(o.peer_addr_), sender_(std::move(o.sender_)),
        events_(std::move(o.events_)),
        sync_(o.sync_), policy_(o.policy_), synced_head_(o.synced_head_), sync_error_(o.sync_error_),
        recovery_(o.recovery_), durable_tail_(std::move(o.durable_tail_)) {
    registry::replace(slot_, &o, this);
  }
  attachment& operator=(attachment&&) = delete;
  attachment(const attachment&) = delete;
  ~attachment() {
    registry::remove(slot_, this);  // first: no fork or signal reaches this object once it starts to go
    detach();
  }

  /// What makes the wrapper's ring unusable in a fork child (see on_fork_child): called once there with ctx.
  using poison_fn = void (*)(void* ctx) noexcept;
  /// Sets the wrapper's poison hook. The wrapper calls it whenever its ring moves (its own move constructor).
  void on_inherit(poison_fn f, void* ctx) noexcept {
    poison_ = f;
    poison_ctx_ = ctx;
  }
  /// True in a process that inherited this attachment through fork(): it is not attached there, and every call
  /// that could wait or report state throws errc::inherited.
  [[nodiscard]] bool inherited() const noexcept { return inherited_; }
  /// Throws errc::inherited in a fork child.
  void check_owner() const {
    if (SHMRING_UNLIKELY(inherited_))
      throw error(errc::inherited, name(),
                  std::string("this ") + side_name(side_) + " was inherited through fork(): the parent keeps the " +
                      "attachment, and the child must open the ring itself");
  }

  /// Whether another process truncated the segment under us (docs/faults.md, "Truncation"): the SIGBUS handler
  /// replaced the mapping with private zero pages. One acquire load: for the slow paths (waiting calls' probes).
  [[nodiscard]] bool truncated() const noexcept { return seg_->truncated(); }
  /// truncated(), or the object is smaller than the mapping although this process has not touched a lost page yet
  /// (fstat, remembered). A system call: once per liveness interval in waiting calls, and in status().
  [[nodiscard]] bool check_truncated() const noexcept { return seg_->check_truncated(); }
  /// Throws errc::truncated once check_truncated() holds, and makes the wrapper's ring refuse every later call
  /// (the poison hook, as in a fork child). Called before a wait reports corruption: the zero pages' indices look
  /// impossible, and the truth is that the segment lost its pages.
  void check_intact() const {
    if (SHMRING_LIKELY(!check_truncated())) return;
    if (poison_ != nullptr) poison_(poison_ctx_);
    throw error(errc::truncated, name(),
                "another process truncated the segment while this " + std::string(side_name(side_)) +
                    " was attached; everything in the ring is lost (detach, and create the ring anew)");
  }
  /// W3 of the wake-up protocol for the wrappers' publishes (see notify_peer below), out of line. After a
  /// truncation the handler's refill left `sleeping` set in the zero pages, so the first publish after the fault
  /// lands here, and the ring is poisoned instead: every later try_ call fails, every waiting call throws.
  /// False in that case (the call that published went to or came from the zero pages), true otherwise.
  SHMRING_COLD bool wake_peer_slow(layout::wait_line& w, std::atomic<std::uint64_t>& wake_calls) const noexcept {
    if (SHMRING_UNLIKELY(truncated())) {
      if (poison_ != nullptr) poison_(poison_ctx_);
      return false;
    }
    wake_and_signal(w, wake_calls);
    return true;
  }
  /// wake_peer_slow() for callers that go on either way (the message wrappers): returning nothing keeps their fast
  /// path exactly what it was (a bool result there cost gcc a saved register in try_send).
  SHMRING_COLD void wake_peer_slow_quiet(layout::wait_line& w, std::atomic<std::uint64_t>& wake_calls) const noexcept {
    (void)wake_peer_slow(w, wake_calls);
  }

  /// The event descriptor (event/channel.hpp, docs/events.md), created on the first call. Throws errc::inherited
  /// in a fork child, errc::system_error when the kernel refuses a resource.
  [[nodiscard]] int native_handle() const {
    check_owner();
    if (events_ == nullptr) events_ = std::make_unique<event_endpoint>(my_addr_, my_wait(), name());
    return events_->fd();
  }
  /// S2 of arming (event/arming.hpp); native_handle() must have been called.
  void arm_announce() const noexcept { events_->announce(my_wait()); }
  /// S4 of arming: true when this side may sleep on its descriptor now.
  bool arm_check() const noexcept {
    if (SHMRING_UNLIKELY(truncated())) {  // try_ calls fail from now on: say so rather than sleep
      my_wait().sleeping.store(0, std::memory_order_relaxed);
      return false;
    }
    return events_->check(*hdr_, snap_, side_ == side::consumer, my_wait(), [this] { return peer() == peer_state::dead; });
  }
  /// announce, the heavy barrier, check. exact (when given) says whether the sleep needs no liveness bound.
  bool arm(bool* exact = nullptr) const {
    (void)native_handle();
    arm_announce();
    const bool barrier = heavy_barrier();  // S3
    const bool sleep = arm_check();
    if (exact != nullptr) *exact = events_->exact(barrier);
    return sleep;
  }
  [[nodiscard]] const event_endpoint* events() const noexcept { return events_.get(); }

  /// The header in shared memory: its atomic words (indices, counters, wait and attach lines). Its fixed fields
  /// are read through snapshot(), never here.
  [[nodiscard]] layout::header& header() const noexcept { return *hdr_; }
  /// The header's fixed fields as read and validated at attach.
  [[nodiscard]] const layout::header_snapshot& snapshot() const noexcept { return snap_; }
  /// The data area: snapshot().capacity units (typed: slots of snapshot().slot_stride bytes) inside the mapping.
  [[nodiscard]] std::byte* data() const noexcept { return seg_->data() + snap_.data_offset; }
  /// The user name of the segment.
  [[nodiscard]] const std::string& name() const noexcept { return seg_->name(); }
  [[nodiscard]] const options& opts() const noexcept { return opts_; }
  [[nodiscard]] side which() const noexcept { return side_; }
  /// What options::memory did to this process's mapping; huge_bytes as /proc/self/smaps says now.
  [[nodiscard]] memory_status memory() const {
    memory_status m = memory_;
    if (m.huge != huge_pages::off) m.huge_bytes = huge_bytes_mapped(seg_->data(), seg_->mapped_size());
    return m;
  }

  // ---- durability of a file-backed ring (docs/durability.md) --------------------------------------------------
  /// The producer's sync_policy in effect: options::durability on a file-backed ring, none on a /dev/shm ring.
  [[nodiscard]] sync_policy durability() const noexcept { return policy_; }
  /// Whether the ring lives in a file named by a path.
  [[nodiscard]] bool file_backed() const noexcept { return sync_.active(); }
  /// Producer side. Forces the data written since the last sync (indices [synced, head), head as this producer
  /// published it) to storage, then the header page holding head: data is on storage before a head that covers
  /// it is written there by this call. 0 or the errno of the failed msync (also kept: sync_error()). A no-op on
  /// a /dev/shm ring.
  int sync_written(std::uint64_t head) noexcept {
    if (!sync_.active()) return 0;
    // acquire: pairs with the consumer's release store of tail; read before the header sync, so storage holds
    // this tail (or a later one) once it returns.
    const std::uint64_t t = hdr_->tail.value.load(std::memory_order_acquire);
    int e = sync_.data(synced_head_, head);
    if (e == 0) e = sync_.header(sizeof(layout::header));
    if (e != 0) {
      sync_error_ = e;
      return e;
    }
    synced_head_ = head;
    // Same thread as the writer that loads it: relaxed would do; release documents the hand-over.
    if (durable_tail_) durable_tail_->store(t, std::memory_order_release);
    return 0;
  }
  /// The tail word a writer of this side reads: the shared tail, except for the producer of a file-backed ring
  /// under batch or commit, whose writer reads the tail as of its last header sync (the durable tail). Such a
  /// producer never reuses space that storage does not know to be free: after a power cut the tail on storage
  /// never protects bytes this producer overwrote (docs/durability.md, "Reuse of space").
  [[nodiscard]] std::atomic<std::uint64_t>* tail_for_writer() const noexcept {
    return durable_tail_ ? durable_tail_.get() : &hdr_->tail.value;
  }
  /// Producer of a file-backed ring under batch/commit, finding no room: when the consumer freed some since the
  /// last sync, syncs what this producer published (sync_written: data, then the header with the tail) and moves
  /// the durable tail there. True when it moved (look for room again). One acquire load when nothing moved.
  /// (Data first: the header page it syncs holds head, which must not reach storage ahead of its data.)
  bool refresh_durable_tail() noexcept {
    if (!durable_tail_) return false;
    // acquire: pairs with the consumer's release store of tail (as the writer's refresh would).
    const std::uint64_t t = hdr_->tail.value.load(std::memory_order_acquire);
    if (t == durable_tail_->load(std::memory_order_relaxed)) return false;  // our own word: this thread stores it
    // Relaxed: head is this producer's own index (the last value this thread stored).
    return sync_written(hdr_->head.value.load(std::memory_order_relaxed)) == 0;
  }
  /// Consumer side. Forces the header page (tail, the delivered word) to storage. 0 or an errno.
  int sync_header() noexcept {
    const int e = sync_.header(sizeof(layout::header));
    if (e != 0) sync_error_ = e;
    return e;
  }
  /// The errno of the last failed automatic sync (0: none failed).
  [[nodiscard]] int sync_error() const noexcept { return sync_error_; }
  /// What the recovery step at attach did (a file-backed message ring opened with no live producer).
  [[nodiscard]] const recovery_result& recovery() const noexcept { return recovery_; }

  /// Whether the other side is attached and alive, absent (never attached, or detached cleanly), dead, or closed.
  /// A system call: not for the hot path.
  /// Never reports a live peer as dead: "lock free + slot attached" is only believed under the admin lock.
  [[nodiscard]] peer_state peer() const noexcept {
    if (inherited_) return peer_state::absent;  // a fork child: nothing of the ring is this process's
    const side p = other(side_);
    const layout::attach_slot& sl = slot(p);
    // Without the admin lock, so that a third process holding it (or stopped while holding it) cannot hide a
    // death. The order makes the verdict sound: an attacher takes its lock, then bumps attach_count and stores
    // "attached"; a detacher or closer stores its state, then drops the lock. So read the slot, then the lock,
    // then the slot again: "attached" on both sides of a free lock, with the same attach_count, means the side
    // that attached (before our first read) no longer holds its lock and did not detach: it died. A slot that
    // moved in between (an attach, detach or close right now) is read again.
    for (int round = 0; round < 4; ++round) {
      // acquire: pairs with the release store of state in take_side() and leave() of the peer; attach_count
      // (relaxed, stored before that state) is then at least that attach's.
      const auto state = sl.state.load(std::memory_order_acquire);
      const auto count = sl.attach_count.load(std::memory_order_relaxed);
      if (seg_->locked_by_other(lock_of(p))) return peer_state::alive;  // the common case: one system call
      const auto state_after = sl.state.load(std::memory_order_acquire);  // pairs as above
      const auto count_after = sl.attach_count.load(std::memory_order_relaxed);
      if (state != state_after || count != count_after) continue;
      if (state == static_cast<std::uint32_t>(layout::attach_state::attached)) return peer_state::dead;
      return state == static_cast<std::uint32_t>(layout::attach_state::closed) ? peer_state::closed : peer_state::absent;
    }
    return peer_state::alive;  // the slot kept moving: a side is attaching or leaving right now; ask again later
  }

  /// This side's counters; the wait line it sleeps on; the one it wakes the peer through.
  [[nodiscard]] layout::stats_line& my_stats() const noexcept {
    return side_ == side::producer ? hdr_->producer_stats : hdr_->consumer_stats;
  }
  [[nodiscard]] layout::wait_line& my_wait() const noexcept {
    return side_ == side::producer ? hdr_->producer_wait : hdr_->consumer_wait;
  }
  [[nodiscard]] layout::wait_line& peer_wait() const noexcept {
    return side_ == side::producer ? hdr_->consumer_wait : hdr_->producer_wait;
  }

  /// Whether the peer's slot says it closed its side. One acquire load of the attach line (which changes only at
  /// attach, detach and close): for the slow path of waiting calls, after the ring was found with nothing to do.
  /// acquire: pairs with the release store of closed in leave(); everything the peer published before it is
  /// visible once this returns true, so the caller looks at the ring once more before believing in the end.
  [[nodiscard]] bool peer_closed() const noexcept {
    return slot(other(side_)).state.load(std::memory_order_acquire) ==
           static_cast<std::uint32_t>(layout::attach_state::closed);
  }

  /// Detaches now (the destructor does it too): marks the slot detached, drops the lock and, when the peer is
  /// gone, the ring empty and the segment not persistent, removes the name. The peer waits for a restart.
  void detach() noexcept { leave(layout::attach_state::detached); }

  /// Ends this side's stream (see ATTACH AND LIFETIME): as detach(), but the slot says closed and a sleeping peer
  /// is woken, so it ends its waits with errc::closed once it has everything this side published.
  void close() noexcept { leave(layout::attach_state::closed); }

 private:
  // From the registry (detail/registry.hpp), in a fork child: the child shares the parent's open file description,
  // so it holds the parent's attach lock and keeps a dead parent looking alive. Let go of it without touching
  // the segment: no slot written, no lock released (that would free the parent's), no name removed; the fd is
  // closed and the mapping replaced by private memory, so the child holds no reference to the description.
  void on_fork_child() noexcept override {
    inherited_ = true;
    attached_.store(false, std::memory_order_relaxed);
    events_.reset();  // the child's copies of the descriptors: the wake address stays the parent's alone
    sender_.close();
    if (poison_ != nullptr) poison_(poison_ctx_);
    seg_->abandon_after_fork();
  }

  // From the termination_guard's signal handler: leave as detach() or close() would (async-signal-safe).
  void on_terminate(bool close) noexcept override {
    leave(close ? layout::attach_state::closed : layout::attach_state::detached);
  }

  // Async-signal-safe (it runs from the termination handler): fcntl, stat, unlink, futex, clock_gettime and
  // sched_yield/nanosleep; no allocation (the segment keeps its paths). attached_ is exchanged, so a thread and a
  // handler never both leave.
  void leave(layout::attach_state how) noexcept {
    if (!attached_.exchange(false, std::memory_order_acq_rel)) return;
    // The admin lock is held for microseconds by an attacher, a detacher or a sweep. A holder that keeps it longer
    // (stopped, or a hostile process) must not hold up a detach: after admin_wait we leave without it, and without
    // judging whether to retire the segment (an attacher may be the holder). A drained segment left that way is
    // stale (stale.hpp), so `shmring gc` or remove_stale() retires it once the holder is gone.
    const auto deadline = deadline_after(std::min<std::chrono::nanoseconds>(opts_.open_timeout, admin_wait));
    bool admin = false;
    try {
      admin = seg_->lock_until(lock_byte::admin, deadline);
    } catch (...) {
    }
    // release: pairs with the acquire loads of state in peer() and peer_closed(); written after every index store
    // of this side and before the lock is dropped.
    slot(side_).state.store(static_cast<std::uint32_t>(how), std::memory_order_release);
    seg_->unlock(lock_of(side_));
    // W2-W3 of the wake-up protocol (wait.hpp) for the state just stored: a peer asleep waiting for us re-checks.
    if (how == layout::attach_state::closed) {
      std::atomic_signal_fence(std::memory_order_seq_cst);  // the light half, as in notify()
      if (peer_wait().sleeping.load(std::memory_order_relaxed) != 0) wake_and_signal(peer_wait(), my_stats().wake_calls);
    } else {
      wake_fd_sleeper();  // a peer waiting on its descriptor hears of a detach too
    }
    if (admin) {
      const bool peer_here = seg_->locked_by_other(lock_of(other(side_)));
      const bool empty = hdr_->head.value.load(std::memory_order_acquire) == hdr_->tail.value.load(std::memory_order_acquire);
      if (!peer_here && empty && !snap_.persistent()) (void)seg_->unlink_if_still_named();
      seg_->unlock(lock_byte::admin);
    }
  }

  attachment(std::unique_ptr<segment> seg, layout::header* h, const layout::header_snapshot& snap, side s,
             const options& o)
      : seg_(std::move(seg)), hdr_(h), snap_(snap), side_(s), opts_(o),
        my_addr_(make_wake_address(seg_->identity(), snap.creator_uid, snap.created_ns, s == side::consumer)),
        peer_addr_(make_wake_address(seg_->identity(), snap.creator_uid, snap.created_ns, s != side::consumer)) {
    seg_->on_truncation(&refill_after_truncation);
    if (seg_->file_backed()) {
      const bool message = snap.kind == static_cast<std::uint32_t>(segment_kind::message);
      sync_ = file_sync(seg_->data(), seg_->mapped_size(), snap.data_offset, snap.capacity,
                        message ? 1 : snap.slot_stride);  // typed: bytes per slot (layout 4: turn slots are wider)
      policy_ = o.durability;
      if (s == side::producer && policy_ != sync_policy::none) {
        // The tail in the page cache may not be on storage yet: sync the header once, then reuse up to it.
        const std::uint64_t t = h->tail.value.load(std::memory_order_acquire);  // pairs with the consumer's release
        if (const int e = sync_.header(sizeof(layout::header)); e != 0) sync_error_ = e;
        durable_tail_ = std::make_unique<std::atomic<std::uint64_t>>(t);
      }
    }
    synced_head_ = snap.initial_index;
  }

  // From the SIGBUS handler (detail/sigbus.hpp), into the fresh zero pages of a truncated segment, before the
  // faulting access resumes. Plain stores into private memory: async-signal-safe.
  // - `sleeping` set in both wait lines: a wrapper's publish checks it right after every successful push or pop
  //   (notify_peer), so the first one after the fault takes the slow path, wake_peer_slow(), which poisons the
  //   ring. That costs the fast path nothing: it already loads the word.
  // - head = tail = 2^63: an index no ring reaches in practice (2^63 operations from index 0; first_index is
  //   chosen by the creator, and one within a capacity of 2^63 would make this look valid), so the next
  //   refresh of the peer's index sees it out of range rather than a plausible 0; and leave() sees the ring empty.
  // Relaxed: the handler's release store of the range's flag publishes them (detail/sigbus.hpp), and the thread
  // that faulted, the one that reads them next, is the one running the handler.
  static void refill_after_truncation(std::byte* base) noexcept {
    auto* h = std::launder(reinterpret_cast<layout::header*>(base));
    h->head.value.store(std::uint64_t{1} << 63, std::memory_order_relaxed);
    h->tail.value.store(std::uint64_t{1} << 63, std::memory_order_relaxed);
    h->producer_wait.sleeping.store(1, std::memory_order_relaxed);
    h->consumer_wait.sleeping.store(1, std::memory_order_relaxed);
  }

  layout::attach_slot& slot(side s) const noexcept {
    return s == side::producer ? hdr_->attach.producer : hdr_->attach.consumer;
  }

  void take_side(bool fresh) {
    if (fresh && !seg_->try_lock(lock_of(side_))) throw error(errc::system_error, name(), "could not lock the new segment");
    (void)detail::heavy_barrier_available();  // register for membarrier before the first wake-up can be needed, and before the state store below (wake_fd_sleeper)
    attached_.store(true, std::memory_order_relaxed);
    if (slot_ == nullptr) slot_ = registry::instance().add(this);
    install_fork_handler();
    auto& sl = slot(side_);
    const long pid = static_cast<long>(::getpid());
    sl.pid.store(static_cast<std::uint32_t>(pid), std::memory_order_relaxed);
    sl.start_time.store(process_start_time(pid), std::memory_order_relaxed);
    sl.attach_count.store(sl.attach_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sl.attach_ns.store(realtime_ns(), std::memory_order_relaxed);
    // release: pairs with the acquire load of state in peer(); the lock is already held, so a peer that sees
    // "attached" with a free lock knows we died.
    sl.state.store(static_cast<std::uint32_t>(layout::attach_state::attached), std::memory_order_release);
    wake_fd_sleeper();  // a peer waiting on its descriptor hears of the (re-)attach
  }

  // The random part of the peer's wake address. acquire: pairs with the release store when the peer bound it
  // (event/channel.hpp); read after `sleeping` said sleeping_fd, which the peer stored after binding.
  std::uint64_t peer_nonce() const noexcept { return peer_wait().wake_nonce.load(std::memory_order_acquire); }

  // W2-W3 for a change of this side's attach state, to a peer waiting on its descriptor only (a futex sleeper
  // learns of attach and detach at its liveness check, as before). The light half, as in notify(): this process
  // registered for membarrier before it stored the state (take_side), so the sleeper's barrier covers it.
  void wake_fd_sleeper() noexcept {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (peer_wait().sleeping.load(std::memory_order_relaxed) == layout::sleeping_fd)
      wake_and_signal(peer_wait(), my_stats().wake_calls);
  }

  // W3 (wake_slow), and the peer's wake datagram when it was asleep on its descriptor.
  void wake_and_signal(layout::wait_line& w, std::atomic<std::uint64_t>& wake_calls) const noexcept {
    if (wake_slow(w, wake_calls) == layout::sleeping_fd) sender_.send(peer_addr_, peer_nonce());
  }

  std::unique_ptr<segment> seg_;
  layout::header* hdr_;
  layout::header_snapshot snap_;  // the header's fixed fields, read once and validated: the only source of sizes
  side side_;
  options opts_;
  /// The longest a detach waits for the admin lock (see leave()).
  static constexpr std::chrono::milliseconds admin_wait{50};

  std::atomic<bool> attached_{false};
  bool inherited_ = false;                      // this process is a fork child of the one that attached
  poison_fn poison_ = nullptr;                  // the wrapper's hook for a fork child (on_inherit)
  void* poison_ctx_ = nullptr;
  std::atomic<registrant*>* slot_ = nullptr;    // this attachment's entry in the process's registry
  memory_status memory_;                        // what options::memory did at attach (detail/memory.hpp)
  wake_address my_addr_;                        // where a waker reaches this side's descriptor (event/channel.hpp)
  wake_address peer_addr_;                      // where this side reaches the peer's
  wake_sender sender_;                          // sends the peer's wake datagrams (created on first use)
  mutable std::unique_ptr<event_endpoint> events_;  // this side's descriptor, from the first native_handle()
  file_sync sync_;                              // a file-backed ring's msync ranges; inactive on /dev/shm
  sync_policy policy_ = sync_policy::none;      // options::durability, none on /dev/shm
  std::uint64_t synced_head_ = 0;               // producer: the head up to which data is synced
  int sync_error_ = 0;                          // errno of the last failed automatic sync
  recovery_result recovery_{};                  // what recovery at attach did
  std::unique_ptr<std::atomic<std::uint64_t>> durable_tail_;  // see tail_for_writer(); null unless batch/commit

  /// Once per process: the child side of pthread_atfork lets go of every inherited attachment.
  static void install_fork_handler() noexcept {
    static const bool installed = [] {
      return ::pthread_atfork(nullptr, nullptr, [] {
               registry::instance().for_each([](registrant& r) { r.on_fork_child(); });
             }) == 0;
    }();
    (void)installed;
  }
};

/// W2-W3 of the wake-up protocol after a wrapper's publish: exactly notify() (wait.hpp) on the fast path, one
/// relaxed load of the peer's `sleeping`; its slow path also notices a truncation (attachment::wake_peer_slow).
/// False when the segment was truncated under the publish: the typed wrappers then report failure.
inline bool notify_peer(const attachment& ep, layout::wait_line& w, std::atomic<std::uint64_t>& wake_calls) noexcept {
  // The light half of the asymmetric barrier, as in notify(): keeps this load after the caller's index store.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (SHMRING_UNLIKELY(w.sleeping.load(std::memory_order_relaxed) != 0)) return ep.wake_peer_slow(w, wake_calls);
  return true;
}
/// notify_peer() for the message wrappers, whose call under way completes either way (docs/faults.md).
inline void notify_peer_quiet(const attachment& ep, layout::wait_line& w, std::atomic<std::uint64_t>& wake_calls) noexcept {
  // The light half of the asymmetric barrier, as in notify(): keeps this load after the caller's index store.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (SHMRING_UNLIKELY(w.sleeping.load(std::memory_order_relaxed) != 0)) ep.wake_peer_slow_quiet(w, wake_calls);
}

/// The error a waiting call throws when its wait ended without the ring being ready (and not by a timeout).
[[noreturn]] inline void throw_wait(wait_status s, const attachment& ep) {
  ep.check_owner();   // a fork child's poisoned ring looks corrupted: say what really happened
  ep.check_intact();  // so do the zero pages of a truncated segment
  if (s == wait_status::peer_dead)
    throw error(errc::peer_dead, ep.name(),
                std::string("the ") + side_name(other(ep.which())) + " died while this " + side_name(ep.which()) + " waited");
  if (s == wait_status::closed)
    throw error(errc::closed, ep.name(),
                ep.which() == side::consumer ? "the producer closed the stream and everything it sent was received"
                                             : "the consumer closed its side: nobody will read");
  throw error(errc::corrupted, ep.name(), "the peer's index is out of range; the ring is unusable");
}

}  // namespace detail
}  // namespace shmring
