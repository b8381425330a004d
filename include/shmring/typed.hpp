// shmring: producer<T> and consumer<T>, the typed ring between two processes.
// May touch: its own endpoint (attach/detach), the ring over the segment's data area, the wait lines (notify on
// every publish, sleep in waiting calls) and its own stats line. The sides themselves (waiting, waking, counters)
// are detail/typed_side.hpp, shared with the run-time described elements of dynamic.hpp.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/attachment.hpp>
#include <shmring/detail/typed_side.hpp>
#include <shmring/error.hpp>
#include <shmring/options.hpp>
#include <shmring/ring/typed_ring.hpp>
#include <shmring/slots.hpp>
#include <shmring/stale.hpp>  // shmring::remove, is_stale, remove_stale
#include <shmring/status.hpp>
#include <shmring/wait.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shmring {

namespace detail {

/// The ring over the segment's data area, sized from the validated snapshot (never from the shared header).
template <element T, slots S>
ring<T, S> typed_ring_of(const attachment& ep) {
  auto& h = ep.header();
  // validated: the header's slot stride and format are what ring<T, S> computes for T (layout::validate). The tail
  // a producer reads is the durable one under batch/commit on a file ring (attachment::tail_for_writer).
  return ring<T, S>(ring_memory<T>{&h.head.value, ep.tail_for_writer(), typed_slots(ep), ep.snapshot().capacity,
                                ep.snapshot().initial_index});
}

}  // namespace detail

/// The producing side of a typed ring. Only one may be attached to a segment at a time; one thread uses it.
/// S: the slot format (shmring::slots): turn slots by default, slots::packed for a ring used in batches. A ring
/// keeps the format it was created with; an opener naming the other one gets errc::layout_mismatch.
template <element T, slots S = slots::turn>
class producer : public detail::producer_side<ring<T, S>> {
  using side_base = detail::producer_side<ring<T, S>>;

 public:
  using value_type = T;
  /// The slot format this endpoint creates and opens rings with.
  static constexpr slots slot_layout = S;

  /// Creates the segment name holding capacity (a power of two) elements and attaches as its producer.
  /// Throws shmring::error (already_exists, invalid_name, invalid_argument, no_space, ...).
  static producer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return producer(detail::attachment::create(name, side::producer, detail::typed_expectation<T>(capacity, S), o));
  }
  /// Opens an existing segment and attaches as its producer. capacity 0 accepts the segment's; another value must
  /// match it (errc::capacity_mismatch).
  static producer open(std::string_view name, std::uint64_t capacity = 0, const options& o = {}) {
    return producer(detail::attachment::open(name, side::producer, detail::typed_expectation<T>(capacity, S), o));
  }
  /// open(name, 0, o): opens an existing segment with these options, whatever its capacity.
  static producer open(std::string_view name, const options& o) { return open(name, 0, o); }
  /// Opens the segment, or creates it with capacity elements if there is none. An existing segment is opened
  /// whatever its capacity (capacity() tells). A segment whose creator died while setting it up is reclaimed as
  /// create() does (this then waits at least twice open_timeout); a live creator still setting it up gives
  /// errc::not_ready.
  static producer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return producer(
        detail::attachment::open_or_create(name, side::producer, detail::typed_expectation<T>(capacity, S), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  producer(producer&& o) noexcept = default;

  /// Wait-free. Copies v into the ring; false when full (or corrupted). Wakes a sleeping consumer.
  [[nodiscard]] bool try_push(const T& v) noexcept { return this->try_push_one(std::addressof(v)); }

  /// Wait-free. Constructs a T in place; false when full (or corrupted).
  template <class... Args>
    requires std::is_nothrow_constructible_v<T, Args&&...>
  [[nodiscard]] bool try_emplace(Args&&... args) noexcept {
    return this->after_try(this->ring_.try_emplace(std::forward<Args>(args)...));
  }

  /// Pushes v, waiting while the ring is full. Throws errc::peer_dead if the consumer dies meanwhile,
  /// errc::corrupted if its index is impossible.
  void push(const T& v) { this->push_one(std::addressof(v)); }

  /// Pushes v, waiting at most d (any duration, saturated: hours::max() waits for ever, a negative one not at
  /// all) while the ring is full. False on timeout; throws as push() does.
  template <class Rep, class Period>
  [[nodiscard]] bool push_for(const T& v, std::chrono::duration<Rep, Period> d) {
    return this->push_one_for(std::addressof(v), d);
  }

  /// Wait-free. Pushes as many leading elements of in as fit, published with one index store; returns how many.
  [[nodiscard]] std::size_t try_push_n(std::span<const T> in) noexcept { return this->try_push_some(in.data(), in.size()); }

  /// Pushes all of in, waiting while the ring is full. Throws as push() does.
  void push_n(std::span<const T> in) { this->push_all(in.data(), in.size()); }

 private:
  explicit producer(detail::attachment ep) : side_base(std::move(ep), &detail::typed_ring_of<T, S>) {}
};

/// The consuming side of a typed ring. Only one may be attached to a segment at a time; one thread uses it.
/// S: the slot format, as producer<T, S>'s (both sides name the one the ring was created with).
template <element T, slots S = slots::turn>
class consumer : public detail::consumer_side<ring<T, S>> {
  using side_base = detail::consumer_side<ring<T, S>>;

 public:
  using value_type = T;
  /// The slot format this endpoint creates and opens rings with.
  static constexpr slots slot_layout = S;

  /// Creates the segment name holding capacity (a power of two) elements and attaches as its consumer.
  static consumer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return consumer(detail::attachment::create(name, side::consumer, detail::typed_expectation<T>(capacity, S), o));
  }
  /// Opens an existing segment and attaches as its consumer. capacity 0 accepts the segment's; another value must
  /// match it (errc::capacity_mismatch).
  static consumer open(std::string_view name, std::uint64_t capacity = 0, const options& o = {}) {
    return consumer(detail::attachment::open(name, side::consumer, detail::typed_expectation<T>(capacity, S), o));
  }
  /// open(name, 0, o): opens an existing segment with these options, whatever its capacity.
  static consumer open(std::string_view name, const options& o) { return open(name, 0, o); }
  /// Opens the segment, or creates it with capacity elements if there is none. An existing segment is opened
  /// whatever its capacity (capacity() tells). A segment whose creator died while setting it up is reclaimed as
  /// create() does (this then waits at least twice open_timeout); a live creator still setting it up gives
  /// errc::not_ready.
  static consumer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    return consumer(
        detail::attachment::open_or_create(name, side::consumer, detail::typed_expectation<T>(capacity, S), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  consumer(consumer&& o) noexcept = default;

  /// Wait-free. The oldest element, or nothing when empty (or corrupted). Wakes a sleeping producer.
  [[nodiscard]] std::optional<T> try_pop() noexcept {
    std::optional<T> v(std::in_place);
    if (SHMRING_UNLIKELY(!this->try_pop_one(std::addressof(*v)))) return std::nullopt;
    return v;
  }

  /// Wait-free. Copies the oldest element into out; false when empty (or corrupted).
  [[nodiscard]] bool try_pop(T& out) noexcept { return this->try_pop_one(std::addressof(out)); }

  /// The oldest element, waiting while the ring is empty. Throws errc::peer_dead if the producer dies while we
  /// wait (everything it published first is still delivered), errc::corrupted if its index is impossible.
  T pop() {
    T v;
    this->pop_one(std::addressof(v));
    return v;
  }

  /// The oldest element, waiting at most d (any duration, saturated: hours::max() waits for ever, a negative one
  /// not at all); nothing on timeout. Throws as pop() does.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<T> pop_for(std::chrono::duration<Rep, Period> d) {
    T v;
    if (!this->pop_one_for(std::addressof(v), d)) return std::nullopt;
    return v;
  }

  /// Wait-free. Copies up to out.size() of the oldest elements, freeing their slots with one index store.
  [[nodiscard]] std::size_t try_pop_n(std::span<T> out) noexcept { return this->try_pop_some(out.data(), out.size()); }

  /// Copies at least one and up to out.size() elements, waiting while the ring is empty. Throws as pop() does.
  std::size_t pop_n(std::span<T> out) { return this->pop_some(out.data(), out.size()); }

  /// Wait-free. The oldest element in place (no copy), or nullptr when empty. Valid until pop_front().
  [[nodiscard]] const T* front() noexcept { return this->ring_.front(); }

 private:
  explicit consumer(detail::attachment ep) : side_base(std::move(ep), &detail::typed_ring_of<T, S>) {}
};

}  // namespace shmring
