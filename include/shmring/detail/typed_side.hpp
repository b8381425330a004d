// shmring: the producing and the consuming side of a typed ring, whatever describes its element: producer<T> /
// consumer<T> (typed.hpp, a C++ type) and dynamic_producer / dynamic_consumer (dynamic.hpp, a size, an alignment
// and a type name given at run time, for the language bindings) are thin layers over these two templates, so
// both kinds of endpoint share one ring algorithm (ring/typed_ring.hpp), one attach and validation path
// (attachment, layout::validate) and one waiting protocol.
// May touch: its own endpoint (attach/detach), the ring over the segment's data area, the wait lines (notify on
// every publish, sleep in waiting calls) and its own stats line.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/attachment.hpp>
#include <shmring/detail/endpoint_base.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/ring/typed_ring.hpp>
#include <shmring/status.hpp>
#include <shmring/wait.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <utility>

namespace shmring::detail {

/// What a typed opener expects of a segment: its element's size, alignment and declared name (may be empty).
/// slot_choice: the format a creator gives the ring and an opener expects; any_slots: an opener accepts either.
inline layout::expectation typed_expectation(std::uint32_t size, std::uint32_t align, std::uint64_t capacity,
                                             std::string_view type_name, slots slot_choice = slots::turn,
                                             bool any_slots = false) noexcept {
  return {segment_kind::typed, size, align, capacity, type_name, slot_choice, any_slots};
}

template <element T>
layout::expectation typed_expectation(std::uint64_t capacity, slots slot_choice = slots::turn) noexcept {
  return typed_expectation(static_cast<std::uint32_t>(sizeof(T)), static_cast<std::uint32_t>(alignof(T)), capacity,
                           type_name_of<T>(), slot_choice);
}

/// The slots of the segment's data area, sized from the validated snapshot (never from the shared header).
inline std::byte* typed_slots(const attachment& ep) noexcept { return ep.data(); }

/// What both sides of a typed ring have: the ring (ring<T> or slot_ring<runtime_slot>, built by make(attachment&)),
/// the peer's wait line and this side's counters, and the one shape of every call: try the ring, wake the peer on
/// success, else (waiting calls) wait and try again.
template <class Ring>
class side_common : public endpoint_base {
 public:
  /// The number of slots.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.capacity(); }
  /// Elements in the ring at some moment during the call.
  [[nodiscard]] std::uint64_t size_approx() const noexcept { return ring_.size_approx(); }

 protected:
  template <class Make>
  side_common(attachment ep, Make make)
      : endpoint_base(std::move(ep)), ring_(make(ep_)), peer_wait_(&ep_.peer_wait()), stats_(&ep_.my_stats()) {
    ep_.on_inherit(&poison, &ring_);
  }
  side_common(side_common&& o) noexcept
      : endpoint_base(std::move(o)), ring_(std::move(o.ring_)), peer_wait_(o.peer_wait_), stats_(o.stats_) {
    ep_.on_inherit(&poison, &ring_);
  }
  ~side_common() = default;

  /// What a try_ call reports after the ring took or gave (done) an element, or refused: wakes a sleeping peer.
  bool after_try(bool done) noexcept {
    if (SHMRING_LIKELY(done)) return notify_peer();  // false: the segment was truncated under it
    detail::bump(stats_->stalls);
    return false;
  }

  /// A waiting call for one element: op() (the ring's try_push_bytes or try_pop_bytes) now, else wait (poll says
  /// when op may succeed) until deadline and try again. False on timeout; throws what the wait reports.
  /// last(): called when the peer died while we waited; true to try op() once more before reporting it.
  template <class Op, class Poll, class Last>
  bool one_until(Op op, Poll poll, Last last, std::chrono::steady_clock::time_point deadline) {
    if (SHMRING_LIKELY(op())) {
      if (SHMRING_LIKELY(notify_peer())) return true;
      detail::throw_wait(wait_status::corrupted, ep_);  // truncated under the call: throw_wait says so
    }
    return one_slow(op, poll, last, deadline);
  }

  /// Waits until poll() says ready (or closed, dead, corrupted, timeout).
  template <class Poll>
  wait_status wait_for(Poll poll, std::chrono::steady_clock::time_point deadline) {
    return wait_until(poll,
                      [this] {
                        (void)ep_.check_truncated();  // pages past a new end of the object may not have faulted yet
                        return ep_.peer();
                      },
                      ep_.my_wait(), ep_.my_stats(), ep_.opts().wait, deadline);
  }

  // W2-W3 after a publish. False only when the segment was truncated under this call (its element went to, or
  // came from, the zero pages): the ring is poisoned by then, and the call reports failure.
  bool notify_peer() noexcept { return detail::notify_peer(ep_, *peer_wait_, stats_->wake_calls); }

  Ring ring_;

 private:
  // In a fork child (detail::attachment::on_fork_child): every try_ call fails from now on, waiting calls throw
  // errc::inherited.
  static void poison(void* r) noexcept { static_cast<Ring*>(r)->poison(); }

  template <class Op, class Poll, class Last>
  SHMRING_NOINLINE bool one_slow(Op op, Poll poll, Last last, std::chrono::steady_clock::time_point deadline) {
    detail::bump(stats_->stalls);
    for (;;) {
      const wait_status s = wait_for(poll, deadline);
      if (s == wait_status::timeout) return false;
      if (s == wait_status::peer_dead && last() && op()) {
        if (notify_peer()) return true;
        detail::throw_wait(wait_status::corrupted, ep_);
      }
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
      if (op()) {
        if (notify_peer()) return true;
        detail::throw_wait(wait_status::corrupted, ep_);
      }
    }
  }

  layout::wait_line* peer_wait_;  // where the peer sleeps: checked after every publish

 protected:
  layout::stats_line* stats_;  // this side's counters
};

/// The producing side over a ring of type Ring. Its element calls take the bytes of whole elements; the public
/// classes give them their types.
template <class Ring>
class producer_side : public side_common<Ring> {
  using common = side_common<Ring>;

 public:
  /// Whether the consumer is attached and alive, absent, dead, or closed (a system call).
  [[nodiscard]] peer_state consumer_state() const noexcept { return this->ep_.peer(); }
  /// Elements pushed into this segment since it was created (by every producer that attached).
  [[nodiscard]] std::uint64_t pushed() const noexcept {
    return this->ring_.producer_index() - this->ep_.snapshot().initial_index;
  }
  /// True once the consumer's index was seen out of range.
  [[nodiscard]] bool corrupted() const noexcept { return this->ring_.producer_corrupted(); }

 protected:
  using common::common;

  /// Wait-free. Copies one element from v; false when full (or corrupted). Wakes a sleeping consumer.
  bool try_push_one(const void* v) noexcept {
    bool pushed = this->ring_.try_push_bytes(v);
    if (SHMRING_UNLIKELY(!pushed) && this->ep_.refresh_durable_tail()) pushed = this->ring_.try_push_bytes(v);
    const bool ok = this->after_try(pushed);
    if (ok) durable(sync_policy::commit);
    return ok;
  }

  /// Pushes one element, waiting while the ring is full. Throws errc::peer_dead if the consumer dies meanwhile,
  /// errc::corrupted if its index is impossible, errc::closed once the consumer closed.
  void push_one(const void* v) {
    if (!push_until(v, std::chrono::steady_clock::time_point::max())) detail::throw_wait(wait_status::timeout, this->ep_);
  }

  /// Pushes one element, waiting at most d (saturated) while the ring is full. False on timeout.
  template <class Rep, class Period>
  bool push_one_for(const void* v, std::chrono::duration<Rep, Period> d) {
    return push_until(v, detail::deadline_after(d));
  }

  /// Wait-free. Pushes as many of the n elements at in as fit, published with one index store; returns how many.
  std::size_t try_push_some(const void* in, std::size_t n) noexcept {
    std::size_t k = this->ring_.try_push_n_bytes(in, n);
    if (SHMRING_UNLIKELY(k < n) && this->ep_.refresh_durable_tail())  // file ring under batch/commit: see attachment
      k += this->ring_.try_push_n_bytes(static_cast<const std::byte*>(in) + k * this->ring_.slot_size(), n - k);
    if (SHMRING_LIKELY(k != 0) && SHMRING_UNLIKELY(!this->notify_peer())) return 0;  // truncated: none will arrive
    if (k != 0) durable(sync_policy::batch);
    if (k < n) detail::bump(this->stats_->stalls);
    return k;
  }

  /// Pushes all n elements at in, waiting while the ring is full. Throws as push_one() does.
  void push_all(const void* in, std::size_t n) {
    const auto* p = static_cast<const std::byte*>(in);
    while (n != 0) {
      const std::size_t k = try_push_some(p, n);
      p += k * this->ring_.slot_size();
      n -= k;
      if (n == 0) return;
      const wait_status s = this->wait_for([this] { return room(); }, std::chrono::steady_clock::time_point::max());
      if (s != wait_status::ready) detail::throw_wait(s, this->ep_);
    }
  }

 private:
  bool push_until(const void* v, std::chrono::steady_clock::time_point deadline) {
    // The dead consumer's last index was read by room() already: nothing to try again.
    const bool ok = this->one_until([this, v] { return this->ring_.try_push_bytes(v); }, [this] { return room(); },
                                    [] { return false; }, deadline);
    if (ok) durable(sync_policy::commit);
    return ok;
  }

  /// A file-backed ring whose policy is at least `p` (batch: batch calls; commit: every call): syncs what this
  /// producer published (detail::attachment::sync_written). One load and a predictable branch otherwise.
  void durable(sync_policy p) noexcept {
    const sync_policy mine = this->ep_.durability();
    if (SHMRING_UNLIKELY(mine != sync_policy::none && mine >= p))
      (void)this->ep_.sync_written(this->ring_.producer_index());
  }

  poll_result room() noexcept {
    if (SHMRING_UNLIKELY(this->ep_.truncated())) return poll_result::corrupted;  // reported as truncated
    (void)this->ep_.refresh_durable_tail();  // a file ring under batch/commit: the room storage knows of
    if (this->ring_.producer_poll()) return poll_result::ready;
    if (this->ring_.producer_corrupted()) return poll_result::corrupted;
    return this->ep_.peer_closed() ? poll_result::closed : poll_result::not_ready;
  }
};

/// The consuming side over a ring of type Ring; element calls take whole elements' bytes.
template <class Ring>
class consumer_side : public side_common<Ring> {
  using common = side_common<Ring>;

 public:
  /// Whether the producer is attached and alive, absent, dead, or closed (a system call).
  [[nodiscard]] peer_state producer_state() const noexcept { return this->ep_.peer(); }
  /// Elements popped from this segment since it was created (by every consumer that attached).
  [[nodiscard]] std::uint64_t popped() const noexcept {
    return this->ring_.consumer_index() - this->ep_.snapshot().initial_index;
  }
  /// True once the producer's index was seen out of range.
  [[nodiscard]] bool corrupted() const noexcept { return this->ring_.consumer_corrupted(); }

  /// Wait-free. Frees the element front() returned. Does nothing when front() would return nullptr (an empty
  /// ring loses no value and delivers no garbage).
  void pop_front() noexcept {
    if (this->ring_.pop_front()) (void)this->notify_peer();
  }

 protected:
  using common::common;

  /// Wait-free. Copies the oldest element to out; false when empty (or corrupted). Wakes a sleeping producer.
  bool try_pop_one(void* out) noexcept { return this->after_try(this->ring_.try_pop_bytes(out)); }

  /// Copies the oldest element to out, waiting while the ring is empty. Throws errc::peer_dead if the producer
  /// dies while we wait (everything it published first is still delivered), errc::corrupted if its index is
  /// impossible, errc::closed after the last element of a closed stream.
  void pop_one(void* out) {
    if (!pop_until(out, std::chrono::steady_clock::time_point::max()))
      detail::throw_wait(wait_status::timeout, this->ep_);
  }

  /// Copies the oldest element to out, waiting at most d (saturated); false on timeout. Throws as pop_one() does.
  template <class Rep, class Period>
  bool pop_one_for(void* out, std::chrono::duration<Rep, Period> d) {
    return pop_until(out, detail::deadline_after(d));
  }

  /// Wait-free. Copies up to max of the oldest elements to out, freeing their slots with one index store.
  std::size_t try_pop_some(void* out, std::size_t max) noexcept {
    const std::size_t n = this->ring_.try_pop_n_bytes(out, max);
    if (SHMRING_LIKELY(n != 0)) {
      if (SHMRING_UNLIKELY(!this->notify_peer())) return 0;  // read from pages a truncation took
    } else {
      detail::bump(this->stats_->stalls);
    }
    return n;
  }

  /// Copies at least one and up to max elements to out, waiting while the ring is empty. Throws as pop_one().
  std::size_t pop_some(void* out, std::size_t max) {
    for (;;) {
      if (const std::size_t n = try_pop_some(out, max); n != 0) return n;
      const wait_status s = this->wait_for([this] { return data(); }, std::chrono::steady_clock::time_point::max());
      if (s == wait_status::peer_dead && head_again()) {
        if (const std::size_t n = try_pop_some(out, max); n != 0) return n;  // reads head
      }
      if (s != wait_status::ready) detail::throw_wait(s, this->ep_);
    }
  }

 private:
  bool pop_until(void* out, std::chrono::steady_clock::time_point deadline) {
    return this->one_until([this, out] { return this->ring_.try_pop_bytes(out); }, [this] { return data(); },
                           [this] { return head_again(); }, deadline);
  }

  // The producer died while we waited: our polls may have looked at the next turn only (turn slots,
  // slot_ring::turn_only_polls), and an element whose head it stored before it died, but not its turn, must still
  // be delivered. The next poll reads head.
  bool head_again() noexcept {
    this->ring_.consumer_read_head_next();
    return true;
  }

  poll_result data() noexcept {
    if (SHMRING_UNLIKELY(this->ep_.truncated())) return poll_result::corrupted;  // reported as truncated
    if (this->ring_.consumer_poll()) return poll_result::ready;
    if (this->ring_.consumer_corrupted()) return poll_result::corrupted;
    if (!this->ep_.peer_closed()) return poll_result::not_ready;
    // Closed: its last index store came before that state, and the acquire above made it visible. Head, not
    // only the next turn (an earlier producer may have died between the two stores of its last element).
    this->ring_.consumer_read_head_next();
    if (this->ring_.consumer_poll()) return poll_result::ready;
    return this->ring_.consumer_corrupted() ? poll_result::corrupted : poll_result::closed;
  }
};

}  // namespace shmring::detail
