// shmring: producer<T> and consumer<T>, the typed ring between two processes.
// May touch: its own endpoint (attach/detach), the ring over the segment's data area, the wait lines (notify on
// every publish, sleep in waiting calls) and its own stats line.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/attachment.hpp>
#include <shmring/detail/endpoint_base.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/options.hpp>
#include <shmring/ring/typed_ring.hpp>
#include <shmring/stale.hpp>  // shmring::remove, is_stale, remove_stale
#include <shmring/status.hpp>
#include <shmring/wait.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shmring {

namespace detail {

template <element T>
layout::expectation typed_expectation(std::uint64_t capacity) noexcept {
  return {segment_kind::typed, static_cast<std::uint32_t>(sizeof(T)), static_cast<std::uint32_t>(alignof(T)), capacity,
          type_name_of<T>()};
}

/// The ring over the segment's data area, sized from the validated snapshot (never from the shared header).
template <element T>
ring_memory<T> typed_memory(const attachment& ep) noexcept {
  auto& h = ep.header();
  return {&h.head.value, &h.tail.value, std::launder(reinterpret_cast<T*>(ep.data())), ep.snapshot().capacity};
}

}  // namespace detail

/// The producing side of a typed ring. Only one may be attached to a segment at a time; one thread uses it.
template <element T>
class producer : public detail::endpoint_base {
 public:
  using value_type = T;

  /// Creates the segment name holding capacity (a power of two) elements and attaches as its producer.
  /// Throws shmring::error (already_exists, invalid_name, invalid_argument, no_space, ...).
  static producer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return producer(detail::attachment::create(name, side::producer, detail::typed_expectation<T>(capacity), o));
  }
  /// Opens an existing segment and attaches as its producer. capacity 0 accepts the segment's; another value must
  /// match it (errc::capacity_mismatch).
  static producer open(std::string_view name, std::uint64_t capacity = 0, const options& o = {}) {
    return producer(detail::attachment::open(name, side::producer, detail::typed_expectation<T>(capacity), o));
  }
  /// open(name, 0, o): opens an existing segment with these options, whatever its capacity.
  static producer open(std::string_view name, const options& o) { return open(name, 0, o); }
  /// Opens the segment, or creates it with capacity elements if there is none. An existing segment is opened
  /// whatever its capacity (capacity() tells). A segment whose creator died while setting it up is reclaimed as
  /// create() does (this then waits at least twice open_timeout); a live creator still setting it up gives
  /// errc::not_ready.
  static producer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return producer(detail::attachment::open_or_create(name, side::producer, detail::typed_expectation<T>(capacity), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  producer(producer&& o) noexcept
      : endpoint_base(std::move(o)), ring_(std::move(o.ring_)), peer_wait_(o.peer_wait_), stats_(o.stats_) {
    ep_.on_inherit(&poison, &ring_);
  }

  /// Wait-free. Copies v into the ring; false when full (or corrupted). Wakes a sleeping consumer.
  [[nodiscard]] bool try_push(const T& v) noexcept {
    if (SHMRING_LIKELY(ring_.try_push(v))) return notify_peer();  // false: the segment was truncated under it
    detail::bump(stats_->stalls);
    return false;
  }

  /// Wait-free. Constructs a T in place; false when full (or corrupted).
  template <class... Args>
    requires std::is_nothrow_constructible_v<T, Args&&...>
  [[nodiscard]] bool try_emplace(Args&&... args) noexcept {
    if (SHMRING_LIKELY(ring_.try_emplace(std::forward<Args>(args)...))) return notify_peer();
    detail::bump(stats_->stalls);
    return false;
  }

  /// Pushes v, waiting while the ring is full. Throws errc::peer_dead if the consumer dies meanwhile,
  /// errc::corrupted if its index is impossible.
  void push(const T& v) {
    if (SHMRING_LIKELY(ring_.try_push(v))) {
      if (SHMRING_LIKELY(notify_peer())) return;
      detail::throw_wait(wait_status::corrupted, ep_);  // truncated under the push: throw_wait says so
    }
    if (!push_slow(v, std::chrono::steady_clock::time_point::max())) detail::throw_wait(wait_status::timeout, ep_);
  }

  /// Pushes v, waiting at most d (any duration, saturated: hours::max() waits for ever, a negative one not at
  /// all) while the ring is full. False on timeout; throws as push() does.
  template <class Rep, class Period>
  [[nodiscard]] bool push_for(const T& v, std::chrono::duration<Rep, Period> d) {
    if (SHMRING_LIKELY(ring_.try_push(v))) {
      if (SHMRING_LIKELY(notify_peer())) return true;
      detail::throw_wait(wait_status::corrupted, ep_);
    }
    return push_slow(v, detail::deadline_after(d));
  }

  /// Wait-free. Pushes as many leading elements of in as fit, published with one index store; returns how many.
  [[nodiscard]] std::size_t try_push_n(std::span<const T> in) noexcept {
    const std::size_t n = ring_.try_push_n(in);
    if (SHMRING_LIKELY(n != 0) && SHMRING_UNLIKELY(!notify_peer())) return 0;  // truncated: none will arrive
    if (n < in.size()) detail::bump(stats_->stalls);
    return n;
  }

  /// Pushes all of in, waiting while the ring is full. Throws as push() does.
  void push_n(std::span<const T> in) {
    while (!in.empty()) {
      const std::size_t n = try_push_n(in);
      in = in.subspan(n);
      if (in.empty()) return;
      const wait_status s = wait_room(std::chrono::steady_clock::time_point::max());
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
    }
  }

  /// The number of slots.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.capacity(); }
  /// Elements in the ring at some moment during the call.
  [[nodiscard]] std::uint64_t size_approx() const noexcept { return ring_.size_approx(); }
  /// Whether the consumer is attached and alive, absent, dead, or closed (a system call).
  [[nodiscard]] peer_state consumer_state() const noexcept { return ep_.peer(); }
  /// Elements pushed into this segment since it was created (by every producer that attached).
  [[nodiscard]] std::uint64_t pushed() const noexcept { return ring_.producer_index() - ep_.snapshot().initial_index; }
  /// True once the consumer's index was seen out of range.
  [[nodiscard]] bool corrupted() const noexcept { return ring_.producer_corrupted(); }

 private:
  explicit producer(detail::attachment ep)
      : endpoint_base(std::move(ep)),
        ring_(detail::typed_memory<T>(ep_)),
        peer_wait_(&ep_.peer_wait()),
        stats_(&ep_.my_stats()) {
    ep_.on_inherit(&poison, &ring_);
  }

  // In a fork child (detail::attachment::on_fork_child): every try_ call fails from now on, waiting calls throw
  // errc::inherited.
  static void poison(void* r) noexcept { static_cast<ring<T>*>(r)->poison(); }

  // W2-W3 after a publish. False only when the segment was truncated under this call (its element went to, or
  // came from, the zero pages): the ring is poisoned by then, and the call reports failure.
  bool notify_peer() noexcept { return detail::notify_peer(ep_, *peer_wait_, stats_->wake_calls); }

  SHMRING_NOINLINE bool push_slow(const T& v, std::chrono::steady_clock::time_point deadline) {
    detail::bump(stats_->stalls);
    for (;;) {
      const wait_status s = wait_room(deadline);
      if (s == wait_status::timeout) return false;
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
      if (ring_.try_push(v)) {
        if (notify_peer()) return true;
        detail::throw_wait(wait_status::corrupted, ep_);
      }
    }
  }

  wait_status wait_room(std::chrono::steady_clock::time_point deadline) {
    return wait_until(
        [this] {
          if (SHMRING_UNLIKELY(ep_.truncated())) return poll_result::corrupted;  // reported as truncated
          if (ring_.producer_poll()) return poll_result::ready;
          if (ring_.producer_corrupted()) return poll_result::corrupted;
          return ep_.peer_closed() ? poll_result::closed : poll_result::not_ready;
        },
        [this] {
          (void)ep_.check_truncated();  // pages past a new end of the object may not have faulted yet
          return ep_.peer();
        }, ep_.my_wait(), ep_.my_stats(), ep_.opts().wait, deadline);
  }

  ring<T> ring_;
  layout::wait_line* peer_wait_;  // where the peer sleeps: checked after every publish
  layout::stats_line* stats_;     // this side's counters
};

/// The consuming side of a typed ring. Only one may be attached to a segment at a time; one thread uses it.
template <element T>
class consumer : public detail::endpoint_base {
 public:
  using value_type = T;

  /// Creates the segment name holding capacity (a power of two) elements and attaches as its consumer.
  static consumer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return consumer(detail::attachment::create(name, side::consumer, detail::typed_expectation<T>(capacity), o));
  }
  /// Opens an existing segment and attaches as its consumer. capacity 0 accepts the segment's; another value must
  /// match it (errc::capacity_mismatch).
  static consumer open(std::string_view name, std::uint64_t capacity = 0, const options& o = {}) {
    return consumer(detail::attachment::open(name, side::consumer, detail::typed_expectation<T>(capacity), o));
  }
  /// open(name, 0, o): opens an existing segment with these options, whatever its capacity.
  static consumer open(std::string_view name, const options& o) { return open(name, 0, o); }
  /// Opens the segment, or creates it with capacity elements if there is none. An existing segment is opened
  /// whatever its capacity (capacity() tells). A segment whose creator died while setting it up is reclaimed as
  /// create() does (this then waits at least twice open_timeout); a live creator still setting it up gives
  /// errc::not_ready.
  static consumer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return consumer(detail::attachment::open_or_create(name, side::consumer, detail::typed_expectation<T>(capacity), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  consumer(consumer&& o) noexcept
      : endpoint_base(std::move(o)), ring_(std::move(o.ring_)), peer_wait_(o.peer_wait_), stats_(o.stats_) {
    ep_.on_inherit(&poison, &ring_);
  }

  /// Wait-free. The oldest element, or nothing when empty (or corrupted). Wakes a sleeping producer.
  [[nodiscard]] std::optional<T> try_pop() noexcept {
    std::optional<T> v = ring_.try_pop();
    if (SHMRING_LIKELY(v.has_value())) {
      if (SHMRING_UNLIKELY(!notify_peer())) return std::nullopt;  // read from pages a truncation took
    } else {
      detail::bump(stats_->stalls);
    }
    return v;
  }

  /// Wait-free. Copies the oldest element into out; false when empty (or corrupted).
  [[nodiscard]] bool try_pop(T& out) noexcept {
    if (SHMRING_LIKELY(ring_.try_pop(out))) return notify_peer();  // false: read from pages a truncation took
    detail::bump(stats_->stalls);
    return false;
  }

  /// The oldest element, waiting while the ring is empty. Throws errc::peer_dead if the producer dies while we
  /// wait (everything it published first is still delivered), errc::corrupted if its index is impossible.
  T pop() {
    T v;
    if (SHMRING_LIKELY(ring_.try_pop(v))) {
      if (SHMRING_LIKELY(notify_peer())) return v;
      detail::throw_wait(wait_status::corrupted, ep_);  // truncated under the pop: throw_wait says so
    }
    if (!pop_slow(v, std::chrono::steady_clock::time_point::max())) detail::throw_wait(wait_status::timeout, ep_);
    return v;
  }

  /// The oldest element, waiting at most d (any duration, saturated: hours::max() waits for ever, a negative one
  /// not at all); nothing on timeout. Throws as pop() does.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<T> pop_for(std::chrono::duration<Rep, Period> d) {
    T v;
    if (SHMRING_LIKELY(ring_.try_pop(v))) {
      if (SHMRING_LIKELY(notify_peer())) return v;
      detail::throw_wait(wait_status::corrupted, ep_);
    }
    if (!pop_slow(v, detail::deadline_after(d))) return std::nullopt;
    return v;
  }

  /// Wait-free. Copies up to out.size() of the oldest elements, freeing their slots with one index store.
  [[nodiscard]] std::size_t try_pop_n(std::span<T> out) noexcept {
    const std::size_t n = ring_.try_pop_n(out);
    if (SHMRING_LIKELY(n != 0)) {
      if (SHMRING_UNLIKELY(!notify_peer())) return 0;  // read from pages a truncation took
    } else {
      detail::bump(stats_->stalls);
    }
    return n;
  }

  /// Copies at least one and up to out.size() elements, waiting while the ring is empty. Throws as pop() does.
  std::size_t pop_n(std::span<T> out) {
    for (;;) {
      if (const std::size_t n = try_pop_n(out); n != 0) return n;
      const wait_status s = wait_data(std::chrono::steady_clock::time_point::max());
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
    }
  }

  /// Wait-free. The oldest element in place (no copy), or nullptr when empty. Valid until pop_front().
  [[nodiscard]] const T* front() noexcept { return ring_.front(); }
  /// Wait-free. Frees the element front() returned. Does nothing when front() would return nullptr (an empty
  /// ring loses no value and delivers no garbage).
  void pop_front() noexcept {
    if (ring_.pop_front()) (void)notify_peer();
  }

  /// The number of slots.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return ring_.capacity(); }
  /// Elements in the ring at some moment during the call.
  [[nodiscard]] std::uint64_t size_approx() const noexcept { return ring_.size_approx(); }
  /// Whether the producer is attached and alive, absent, dead, or closed (a system call).
  [[nodiscard]] peer_state producer_state() const noexcept { return ep_.peer(); }
  /// Elements popped from this segment since it was created (by every consumer that attached).
  [[nodiscard]] std::uint64_t popped() const noexcept { return ring_.consumer_index() - ep_.snapshot().initial_index; }
  /// True once the producer's index was seen out of range.
  [[nodiscard]] bool corrupted() const noexcept { return ring_.consumer_corrupted(); }

 private:
  explicit consumer(detail::attachment ep)
      : endpoint_base(std::move(ep)),
        ring_(detail::typed_memory<T>(ep_)),
        peer_wait_(&ep_.peer_wait()),
        stats_(&ep_.my_stats()) {
    ep_.on_inherit(&poison, &ring_);
  }

  // In a fork child (detail::attachment::on_fork_child): every try_ call fails from now on, waiting calls throw
  // errc::inherited.
  static void poison(void* r) noexcept { static_cast<ring<T>*>(r)->poison(); }

  // W2-W3 after a publish. False only when the segment was truncated under this call (its element went to, or
  // came from, the zero pages): the ring is poisoned by then, and the call reports failure.
  bool notify_peer() noexcept { return detail::notify_peer(ep_, *peer_wait_, stats_->wake_calls); }

  SHMRING_NOINLINE bool pop_slow(T& v, std::chrono::steady_clock::time_point deadline) {
    detail::bump(stats_->stalls);
    for (;;) {
      const wait_status s = wait_data(deadline);
      if (s == wait_status::timeout) return false;
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
      if (ring_.try_pop(v)) {
        if (notify_peer()) return true;
        detail::throw_wait(wait_status::corrupted, ep_);
      }
    }
  }

  wait_status wait_data(std::chrono::steady_clock::time_point deadline) {
    return wait_until(
        [this] {
          if (SHMRING_UNLIKELY(ep_.truncated())) return poll_result::corrupted;  // reported as truncated
          if (ring_.consumer_poll()) return poll_result::ready;
          if (ring_.consumer_corrupted()) return poll_result::corrupted;
          if (!ep_.peer_closed()) return poll_result::not_ready;
          // Closed: its last index store came before that state, and the acquire above made it visible.
          if (ring_.consumer_poll()) return poll_result::ready;
          return ring_.consumer_corrupted() ? poll_result::corrupted : poll_result::closed;
        },
        [this] {
          (void)ep_.check_truncated();  // pages past a new end of the object may not have faulted yet
          return ep_.peer();
        }, ep_.my_wait(), ep_.my_stats(), ep_.opts().wait, deadline);
  }

  ring<T> ring_;
  layout::wait_line* peer_wait_;  // where the peer sleeps: checked after every publish
  layout::stats_line* stats_;     // this side's counters
};

}  // namespace shmring
