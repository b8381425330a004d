// shmring: dynamic_producer and dynamic_consumer, typed rings whose element is described at run time (a size, an
// alignment and a type name) instead of by a C++ type: what the C ABI and the language bindings stand on. Same
// segment, same checks and same code as producer<T> / consumer<T> (detail/typed_side.hpp, ring/typed_ring.hpp),
// so a dynamic endpoint and a producer<T> / consumer<T> of a T with that size, alignment and name share a ring.
// May touch: its own endpoint (attach/detach), the ring over the segment's data area, the wait lines and its own
// stats line, as typed.hpp.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/attachment.hpp>
#include <shmring/detail/typed_side.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/options.hpp>
#include <shmring/ring/typed_ring.hpp>
#include <shmring/stale.hpp>  // shmring::remove, is_stale, remove_stale
#include <shmring/status.hpp>

#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shmring {

/// An element described at run time: its size and alignment in bytes, and its declared type name (empty: none,
/// then only size and alignment are compared, as for a C++ type without shmring_type_name).
struct element_info {
  std::uint32_t size;
  std::uint32_t align;
  std::string_view type_name = {};
};

namespace detail {

/// The run-time checks a C++ element type passes at compile time (shmring::element, type_name_of): a size of at
/// least one byte and a multiple of the alignment, a power-of-two alignment up to 4096, a name of at most 40
/// bytes without a zero byte. errc::invalid_argument otherwise. A creator gives the ring o.slot_layout; an opener
/// accepts either slot format and takes the ring's from its header.
inline layout::expectation dynamic_expectation(std::string_view name, const element_info& e, std::uint64_t capacity,
                                               const options& o) {
  auto num = [](std::uint64_t v) { return std::to_string(v); };
  if (e.size == 0) throw error(errc::invalid_argument, name, "an element of 0 bytes");
  if (e.align == 0 || !std::has_single_bit(e.align) || e.align > 4096)
    throw error(errc::invalid_argument, name, "element alignment " + num(e.align) + " is not a power of two up to 4096");
  if (e.size % e.align != 0)
    throw error(errc::invalid_argument, name,
                "element size " + num(e.size) + " is not a multiple of its alignment " + num(e.align));
  if (e.type_name.size() > 40 || e.type_name.find('\0') != std::string_view::npos)
    throw error(errc::invalid_argument, name, "an element type name must have at most 40 bytes and no zero byte");
  return typed_expectation(e.size, e.align, capacity, e.type_name, o.slot_layout, /*any_slots=*/true);
}

inline slot_ring<runtime_slot> dynamic_ring_of(const attachment& ep) {
  auto& h = ep.header();
  // validated: element size and alignment are the opener's, the slot stride and format what it computes for
  // them in the header's format (turn or packed), and capacity * stride fits the segment. The tail a producer
  // reads: attachment::tail_for_writer.
  const auto& s = ep.snapshot();
  const slots format =
      s.slot_format == static_cast<std::uint32_t>(layout::slot_format::packed) ? slots::packed : slots::turn;
  return slot_ring<runtime_slot>(&h.head.value, ep.tail_for_writer(), typed_slots(ep), s.capacity, s.initial_index,
                                 runtime_slot(s.element_size, layout::typed_slot_shape(s.element_size,
                                                                                        s.element_align, format)));
}

/// The element of an attached typed segment, as its validated header describes it.
inline element_info element_of(const attachment& ep) noexcept {
  const auto& s = ep.snapshot();
  return {s.element_size, s.element_align, s.element_type_name()};
}

}  // namespace detail

/// The producing side of a typed ring of run-time described elements. Only one producer (of either kind) may be
/// attached to a segment at a time; one thread uses it. Every element pointer points at element().size bytes.
class dynamic_producer : public detail::producer_side<slot_ring<runtime_slot>> {
  using side_base = detail::producer_side<slot_ring<runtime_slot>>;

 public:
  /// Creates the segment name holding capacity (a power of two) elements of e and attaches as its producer.
  /// Throws shmring::error (invalid_argument for a bad e, already_exists, invalid_name, no_space, ...).
  static dynamic_producer create(std::string_view name, const element_info& e, std::uint64_t capacity,
                                 const options& o = {}) {
    return dynamic_producer(
        detail::attachment::create(name, side::producer, detail::dynamic_expectation(name, e, capacity, o), o));
  }
  /// Opens an existing segment of elements of e (errc::element_mismatch for another size, alignment or name) and
  /// attaches as its producer, whatever its capacity.
  static dynamic_producer open(std::string_view name, const element_info& e, const options& o = {}) {
    return dynamic_producer(
        detail::attachment::open(name, side::producer, detail::dynamic_expectation(name, e, 0, o), o));
  }
  /// Opens the segment, or creates it with capacity elements if there is none (as producer<T>::open_or_create).
  static dynamic_producer open_or_create(std::string_view name, const element_info& e, std::uint64_t capacity,
                                         const options& o = {}) {
    return dynamic_producer(
        detail::attachment::open_or_create(name, side::producer, detail::dynamic_expectation(name, e, capacity, o), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  dynamic_producer(dynamic_producer&&) noexcept = default;

  /// Wait-free. Copies one element from element; false when full (or corrupted). Wakes a sleeping consumer.
  [[nodiscard]] bool try_push(const void* element) noexcept { return try_push_one(element); }
  /// Pushes one element, waiting while the ring is full. Throws as producer<T>::push.
  void push(const void* element) { push_one(element); }
  /// Pushes one element, waiting at most d while the ring is full. False on timeout; throws as push().
  template <class Rep, class Period>
  [[nodiscard]] bool push_for(const void* element, std::chrono::duration<Rep, Period> d) {
    return push_one_for(element, d);
  }
  /// Wait-free. Pushes as many of the n elements at elements as fit, with one index store; returns how many.
  [[nodiscard]] std::size_t try_push_n(const void* elements, std::size_t n) noexcept {
    return try_push_some(elements, n);
  }
  /// Pushes all n elements at elements, waiting while the ring is full. Throws as push().
  void push_n(const void* elements, std::size_t n) { push_all(elements, n); }

  /// The segment's element (the name is the one stored in the segment; valid while this object is not moved).
  [[nodiscard]] element_info element() const noexcept { return detail::element_of(ep_); }

 private:
  explicit dynamic_producer(detail::attachment ep) : side_base(std::move(ep), &detail::dynamic_ring_of) {}
};

/// The consuming side of a typed ring of run-time described elements. Only one consumer (of either kind) may be
/// attached to a segment at a time; one thread uses it. Every out pointer has room for element().size bytes
/// (times the count for the _n calls).
class dynamic_consumer : public detail::consumer_side<slot_ring<runtime_slot>> {
  using side_base = detail::consumer_side<slot_ring<runtime_slot>>;

 public:
  /// Creates the segment name holding capacity (a power of two) elements of e and attaches as its consumer.
  static dynamic_consumer create(std::string_view name, const element_info& e, std::uint64_t capacity,
                                 const options& o = {}) {
    return dynamic_consumer(
        detail::attachment::create(name, side::consumer, detail::dynamic_expectation(name, e, capacity, o), o));
  }
  /// Opens an existing segment of elements of e and attaches as its consumer, whatever its capacity.
  static dynamic_consumer open(std::string_view name, const element_info& e, const options& o = {}) {
    return dynamic_consumer(
        detail::attachment::open(name, side::consumer, detail::dynamic_expectation(name, e, 0, o), o));
  }
  /// Opens the segment, or creates it with capacity elements if there is none.
  static dynamic_consumer open_or_create(std::string_view name, const element_info& e, std::uint64_t capacity,
                                         const options& o = {}) {
    return dynamic_consumer(
        detail::attachment::open_or_create(name, side::consumer, detail::dynamic_expectation(name, e, capacity, o), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  dynamic_consumer(dynamic_consumer&&) noexcept = default;

  /// Wait-free. Copies the oldest element to out; false when empty (or corrupted). Wakes a sleeping producer.
  [[nodiscard]] bool try_pop(void* out) noexcept { return try_pop_one(out); }
  /// Copies the oldest element to out, waiting while the ring is empty. Throws as consumer<T>::pop (closed after
  /// the last element of a closed stream, peer_dead, corrupted).
  void pop(void* out) { pop_one(out); }
  /// As pop(), waiting at most d; false on timeout.
  template <class Rep, class Period>
  [[nodiscard]] bool pop_for(void* out, std::chrono::duration<Rep, Period> d) {
    return pop_one_for(out, d);
  }
  /// Wait-free. Copies up to max of the oldest elements to out with one index store; returns how many.
  [[nodiscard]] std::size_t try_pop_n(void* out, std::size_t max) noexcept { return try_pop_some(out, max); }
  /// Copies at least one and up to max elements to out, waiting while the ring is empty. Throws as pop().
  std::size_t pop_n(void* out, std::size_t max) { return pop_some(out, max); }

  /// Wait-free. The oldest element in place (no copy), or nullptr when empty. Valid until pop_front().
  [[nodiscard]] const void* front() noexcept { return ring_.front_bytes(); }

  /// The segment's element (the name is the one stored in the segment; valid while this object is not moved).
  [[nodiscard]] element_info element() const noexcept { return detail::element_of(ep_); }

 private:
  explicit dynamic_consumer(detail::attachment ep) : side_base(std::move(ep), &detail::dynamic_ring_of) {}
};

}  // namespace shmring
