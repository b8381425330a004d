// shmring: message_producer and message_consumer, variable-length messages between two processes.
// May touch: its own endpoint (attach/detach), the framed-record ring over the segment's data area (byte_ring.hpp),
// the wait lines (notify on every publish, sleep in waiting calls), its own stats line, and the monotonic clock
// (one read per message sent, for the record's timestamp, unless options::timestamps is false).
//
// RESTARTS (docs/layout.md, "Message ring data area", has the record-level rules)
// - A message is consumed when the consumer releases it (try_receive/receive release at once; read() holds it
//   until release()). A consumer that dies before releasing leaves it to the next consumer: at-least-once for that
//   one message, exactly-once for every other.
// - A consumer that dies while reassembling a fragmented message has consumed some of its fragments. The next
//   consumer skips the fragments that remain (counted in dropped()) and starts with the next whole message.
// - A producer that dies (or whose send_for times out, or whose send throws peer_dead) after publishing some
//   fragments of a message leaves a partial message. The consumer keeps it aside, never delivers it, and drops it
//   (counted in dropped()) when the next message arrives: that message's first record carries the resync flag,
//   because a producer that attaches to a ring another producer used always sets it on its first message, and a
//   producer that gives up a message sets it on its next one. Sequence numbers continue from the header's
//   next-sequence word, so they never repeat; a given-up message leaves a gap, which the resync flag excuses.
#pragma once

#include <shmring/byte_ring.hpp>
#include <shmring/config.hpp>
#include <shmring/detail/copy.hpp>
#include <shmring/detail/endpoint.hpp>
#include <shmring/error.hpp>
#include <shmring/layout.hpp>
#include <shmring/status.hpp>
#include <shmring/typed.hpp>
#include <shmring/wait.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <time.h>

namespace shmring {

/// What a message is. The values are BitRPC's, so other implementations interoperate. Any 32-bit value may be
/// sent; values from custom_min up are the application's, 5..999 are reserved for future shmring use.
enum class message_type : std::uint32_t {
  data = 1,
  control = 2,
  heartbeat = 3,
  error = 4,
  custom_min = 1000,
};

/// Flags of a message (BitRPC's values). urgent, compressed and encrypted are the sender's, carried unchanged
/// and not interpreted; last_fragment is managed by the ring (a sender's is ignored, a receiver never sees it).
enum class message_flags : std::uint8_t {
  none = 0,
  urgent = record::flag_urgent,
  compressed = record::flag_compressed,
  encrypted = record::flag_encrypted,
  last_fragment = record::flag_last_fragment,
};

/// Flag sets combine and intersect like bit masks.
constexpr message_flags operator|(message_flags a, message_flags b) noexcept {
  return static_cast<message_flags>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr message_flags operator&(message_flags a, message_flags b) noexcept {
  return static_cast<message_flags>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
constexpr message_flags& operator|=(message_flags& a, message_flags b) noexcept { return a = a | b; }
/// Whether every flag of `which` is set in `f`.
constexpr bool has(message_flags f, message_flags which) noexcept { return (f & which) == which; }

/// What a received message carried, besides its payload.
struct message_info {
  message_type type = message_type::data;     ///< as sent
  message_flags flags = message_flags::none;  ///< as sent (urgent, compressed, encrypted)
  std::uint64_t sequence = 0;      ///< per ring, from 0; consecutive unless a producer gave a message up
  std::uint64_t timestamp_ns = 0;  ///< CLOCK_MONOTONIC (steady_clock on Linux) when the send began; 0 from a
                                   ///< producer made with options::timestamps = false
  std::size_t length = 0;          ///< payload bytes

  /// The timestamp as a steady_clock time point (libstdc++ and libc++ use CLOCK_MONOTONIC on Linux).
  [[nodiscard]] std::chrono::steady_clock::time_point time() const noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(timestamp_ns)));
  }
};

/// A received message that owns its payload.
struct message {
  message_type type = message_type::data;     ///< as sent
  message_flags flags = message_flags::none;  ///< as sent (urgent, compressed, encrypted)
  std::uint64_t sequence = 0;      ///< per ring, from 0; consecutive unless a producer gave a message up
  std::uint64_t timestamp_ns = 0;  ///< CLOCK_MONOTONIC when the send began (0 without options::timestamps)
  std::vector<std::byte> payload;

  /// The payload as characters (no copy; valid while the message lives).
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
  /// Payload bytes.
  [[nodiscard]] std::size_t size() const noexcept { return payload.size(); }
  /// Everything but the payload.
  [[nodiscard]] message_info info() const noexcept { return {type, flags, sequence, timestamp_ns, payload.size()}; }
  /// The timestamp as a steady_clock time point.
  [[nodiscard]] std::chrono::steady_clock::time_point time() const noexcept { return info().time(); }
};

/// A received message in place (zero copy): valid until message_consumer::release() (or the consumer's end).
struct message_view {
  message_info info;                   ///< type, flags, sequence, timestamp, length
  std::span<const std::byte> payload;  ///< 8-byte aligned; in the ring, or in the consumer's reassembly buffer

  /// The payload as characters.
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

namespace detail {

inline layout::expectation message_expectation(std::uint64_t capacity) noexcept {
  return {segment_kind::message, 1, record::alignment, capacity};
}

/// CLOCK_MONOTONIC in ns: the record timestamp (vDSO, no system call on x86-64/aarch64 Linux).
inline std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}


inline void check_message_create(std::string_view name, std::uint64_t capacity, const options& o) {
  if (capacity < min_message_capacity && capacity != 0)
    throw error(errc::invalid_argument, name,
                "a message ring needs a capacity of at least " + std::to_string(min_message_capacity) + " bytes, not " +
                    std::to_string(capacity));
  if (o.first_index % record::alignment != 0)
    throw error(errc::invalid_argument, name, "first_index of a message ring must be a multiple of 8");
}

/// What layout::validate cannot know of a message ring. Throws errc::corrupted.
inline void check_message_ring(const endpoint& ep) {
  const auto& c = ep.header().control;
  if (!record::valid_capacity(c.capacity))
    throw error(errc::corrupted, ep.name(), "message ring capacity " + std::to_string(c.capacity) + " is under 128 bytes");
  if (c.initial_index % record::alignment != 0)
    throw error(errc::corrupted, ep.name(), "message ring initial index " + std::to_string(c.initial_index) + " is not a multiple of 8");
}

inline byte_ring_memory message_memory(const endpoint& ep) noexcept {
  auto& h = ep.header();
  return {&h.head.value, &h.tail.value, ep.data(), h.control.capacity};
}

inline std::atomic<std::uint64_t>& stat_word(layout::stats_line& l, std::size_t i) noexcept { return l.reserved[i]; }

inline void mark_corrupted(layout::stats_line& l) noexcept {
  auto& w = stat_word(l, stats_word::flags);
  w.store(w.load(std::memory_order_relaxed) | stats_word::flag_corrupted, std::memory_order_relaxed);
}

inline std::span<const std::byte> bytes_of(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

[[noreturn]] inline void throw_too_large(const endpoint& ep, std::uint64_t n) {
  throw error(errc::message_too_large, ep.name(),
              "a payload of " + std::to_string(n) + " bytes is over max_message_size (" + std::to_string(max_message_size) + ")");
}

}  // namespace detail

/// The producing side of a message ring. Only one may be attached to a segment at a time; one thread uses it.
class message_producer {
 public:
  /// Creates the segment name with a data area of capacity bytes (a power of two, at least 128) and attaches as
  /// its producer. Throws shmring::error (already_exists, invalid_name, invalid_argument, ...).
  static message_producer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_producer(detail::endpoint::create(name, side::producer, detail::message_expectation(capacity), o));
  }
  /// Opens an existing message ring and attaches as its producer. capacity 0 accepts the segment's.
  static message_producer open(std::string_view name, const options& o = {}, std::uint64_t capacity = 0) {
    return message_producer(detail::endpoint::open(name, side::producer, detail::message_expectation(capacity), o));
  }
  /// Opens the message ring, or creates it with capacity bytes if there is none. A segment whose creator died
  /// while setting it up is reclaimed as create() does (this then waits at least twice open_timeout); a live
  /// creator still setting it up gives errc::not_ready.
  static message_producer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_producer(detail::endpoint::open_or_create(name, side::producer, detail::message_expectation(capacity), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  message_producer(message_producer&&) noexcept = default;

  // ------------------------------------------------------------------------------------------ copying sends

  /// Producer thread only. Wait-free, no allocation. Sends the whole message (fragmented if it is larger than
  /// max_record_payload()) if it fits in the free space now, or nothing: false when it does not fit (a message
  /// larger than the capacity never does: use send()), is over max_message_size, a reservation is open, or the
  /// ring is corrupted (see corrupted()). Wakes a sleeping consumer.
  [[nodiscard]] bool try_send(std::span<const std::byte> payload, message_type t = message_type::data,
                              message_flags f = message_flags::none) noexcept {
    if (SHMRING_LIKELY(writer_.try_write(payload, static_cast<std::uint32_t>(t), static_cast<std::uint8_t>(f),
                                         [this] { return stamp(); }))) {
      notify_peer();
      count(payload.size());
      return true;
    }
    detail::bump(stats_->stalls);
    if (SHMRING_UNLIKELY(writer_.corrupted())) detail::mark_corrupted(*stats_);
    return false;
  }

  /// Producer thread only. Sends the message, waiting for room as the wait policy says; a message larger than
  /// the ring goes out fragment by fragment as the consumer frees room. Throws errc::message_too_large over
  /// max_message_size, errc::peer_dead if the consumer dies meanwhile, errc::corrupted if its index is impossible
  /// (a message cut short by either is never delivered), errc::invalid_argument while a reservation is open.
  void send(std::span<const std::byte> payload, message_type t = message_type::data,
            message_flags f = message_flags::none) {
    if (SHMRING_LIKELY(try_send_fast(payload, t, f))) return;
    (void)send_slow(payload, t, f, std::chrono::steady_clock::time_point::max());
  }

  /// Producer thread only. As send(), waiting at most d: false on timeout, and then the message is not delivered
  /// (fragments already published are dropped by the consumer). Throws as send() does.
  [[nodiscard]] bool send_for(std::span<const std::byte> payload, std::chrono::nanoseconds d,
                              message_type t = message_type::data, message_flags f = message_flags::none) {
    if (SHMRING_LIKELY(try_send_fast(payload, t, f))) return true;
    return send_slow(payload, t, f, detail::deadline_after(d));
  }

  /// Producer thread only. try_send() of the characters of s.
  [[nodiscard]] bool try_send_string(std::string_view s, message_type t = message_type::data,
                                     message_flags f = message_flags::none) noexcept {
    return try_send(detail::bytes_of(s), t, f);
  }
  /// Producer thread only. send() of the characters of s.
  void send_string(std::string_view s, message_type t = message_type::data, message_flags f = message_flags::none) {
    send(detail::bytes_of(s), t, f);
  }
  /// Producer thread only. send_for() of the characters of s.
  [[nodiscard]] bool send_string_for(std::string_view s, std::chrono::nanoseconds d, message_type t = message_type::data,
                                     message_flags f = message_flags::none) {
    return send_for(detail::bytes_of(s), d, t, f);
  }

  /// Producer thread only. try_send() of the object bytes of v (receive with try_receive_typed<T>).
  template <trivially_copyable_message T>
  [[nodiscard]] bool try_send_typed(const T& v, message_type t = message_type::data,
                                    message_flags f = message_flags::none) noexcept {
    return try_send(std::as_bytes(std::span<const T, 1>(std::addressof(v), 1)), t, f);
  }
  /// Producer thread only. send() of the object bytes of v.
  template <trivially_copyable_message T>
  void send_typed(const T& v, message_type t = message_type::data, message_flags f = message_flags::none) {
    send(std::as_bytes(std::span<const T, 1>(std::addressof(v), 1)), t, f);
  }
  /// Producer thread only. send_for() of the object bytes of v.
  template <trivially_copyable_message T>
  [[nodiscard]] bool send_typed_for(const T& v, std::chrono::nanoseconds d, message_type t = message_type::data,
                                    message_flags f = message_flags::none) {
    return send_for(std::as_bytes(std::span<const T, 1>(std::addressof(v), 1)), d, t, f);
  }

  // ------------------------------------------------------------------------------------------ zero copy

  /// Producer thread only. Wait-free. Reserves n contiguous payload bytes in the ring (n <= max_record_payload())
  /// and returns them (8-byte aligned) to be written in place; nothing is visible to the consumer until commit().
  /// Nothing when there is no room, n is too large, a reservation is open already, or the ring is corrupted.
  [[nodiscard]] std::optional<std::span<std::byte>> try_reserve(std::size_t n) noexcept {
    if (std::byte* p = writer_.try_reserve(n); SHMRING_LIKELY(p != nullptr)) return std::span<std::byte>(p, n);
    detail::bump(stats_->stalls);
    if (SHMRING_UNLIKELY(writer_.corrupted())) detail::mark_corrupted(*stats_);
    return std::nullopt;
  }

  /// Producer thread only. As try_reserve(), waiting for room. Throws errc::message_too_large if n is over
  /// max_record_payload(), errc::invalid_argument if a reservation is open, and as send() does.
  std::span<std::byte> reserve(std::size_t n) {
    auto r = reserve_until(n, std::chrono::steady_clock::time_point::max());
    return *r;  // never empty: reserve_until waits without a deadline or throws
  }

  /// Producer thread only. As reserve(), waiting at most d; nothing on timeout.
  [[nodiscard]] std::optional<std::span<std::byte>> reserve_for(std::size_t n, std::chrono::nanoseconds d) {
    return reserve_until(n, detail::deadline_after(d));
  }

  /// Producer thread only. Wait-free. Publishes the first `size` bytes of the reservation (at most its size) as one
  /// message, timestamped now (unless options::timestamps is false), and wakes a sleeping consumer. Does nothing if no reservation is open.
  void commit(std::size_t size, message_type t = message_type::data, message_flags f = message_flags::none) noexcept {
    if (!writer_.reservation_open()) return;
    size = static_cast<std::size_t>(std::min<std::uint64_t>(size, writer_.reservation_size()));
    writer_.commit(size, static_cast<std::uint32_t>(t), static_cast<std::uint8_t>(f), stamp());
    notify_peer();
    count(size);
  }

  /// Producer thread only. Drops the open reservation: nothing of it is ever visible. Does nothing if none is open.
  void abandon() noexcept { writer_.abandon(); }

  // ------------------------------------------------------------------------------------------ observers

  /// Anyone. Bytes of the data area.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return writer_.capacity(); }
  /// Anyone. The largest payload of one record: of a reservation, and of a message sent without fragmenting.
  [[nodiscard]] std::uint64_t max_record_payload() const noexcept { return writer_.max_payload(); }
  /// Anyone. The segment's user name.
  [[nodiscard]] const std::string& name() const noexcept { return ep_.name(); }
  /// Producer thread. Whether the consumer is attached and alive, absent, or dead (a system call).
  [[nodiscard]] peer_state consumer_state() const noexcept { return ep_.peer(); }
  /// Producer thread. The sequence number the next message will carry.
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return writer_.next_sequence(); }
  /// Anyone. Messages completely sent into this segment (by every producer that attached).
  [[nodiscard]] std::uint64_t sent() const noexcept { return stats_->messages.load(std::memory_order_relaxed); }
  /// Anyone. Futex wake system calls this side has made for the consumer (all producers of the segment).
  [[nodiscard]] std::uint64_t wake_calls() const noexcept { return stats_->wake_calls.load(std::memory_order_relaxed); }
  /// Anyone. Futex waits this side has made waiting for room (all producers of the segment).
  [[nodiscard]] std::uint64_t sleeps() const noexcept { return stats_->sleeps.load(std::memory_order_relaxed); }
  /// Producer thread. True once the consumer's index was seen out of range; every send then fails.
  [[nodiscard]] bool corrupted() const noexcept { return writer_.corrupted(); }
  /// Anyone. A snapshot of the ring's header (see shmring::status); a few system calls.
  [[nodiscard]] ring_status status() const { return detail::endpoint_status(ep_); }
  /// Producer thread. Detaches now (the destructor does too). The object is unusable afterwards.
  void detach() noexcept { ep_.detach(); }

 private:
  explicit message_producer(detail::endpoint ep)
      : ep_(std::move(ep)),
        writer_((detail::check_message_ring(ep_), detail::message_memory(ep_)),
                detail::stat_word(ep_.my_stats(), detail::stats_word::next_sequence).load(std::memory_order_relaxed),
                // A producer attached before us: whatever it left half-sent must be dropped, not completed.
                ep_.header().attach.producer.attach_count.load(std::memory_order_relaxed) > 1,
                &detail::stat_word(ep_.my_stats(), detail::stats_word::next_sequence)),
        peer_wait_(&ep_.peer_wait()),
        stats_(&ep_.my_stats()),
        timestamps_(ep_.opts().timestamps) {
    if (writer_.corrupted())
      throw error(errc::corrupted, ep_.name(), "the ring's indices are out of range or not multiples of 8");
  }

  /// A record's timestamp: the monotonic clock, or 0 for a producer made with options::timestamps = false.
  [[nodiscard]] std::uint64_t stamp() const noexcept { return timestamps_ ? detail::monotonic_ns() : 0; }

  void count(std::uint64_t bytes) noexcept {
    detail::bump(stats_->messages);
    detail::bump(stats_->bytes, bytes);
  }

  bool try_send_fast(std::span<const std::byte> payload, message_type t, message_flags f) {
    if (SHMRING_UNLIKELY(payload.size() > max_message_size)) detail::throw_too_large(ep_, payload.size());
    if (SHMRING_UNLIKELY(writer_.reservation_open()))
      throw error(errc::invalid_argument, ep_.name(), "send while a reservation is open: commit() or abandon() it first");
    if (SHMRING_LIKELY(writer_.try_write(payload, static_cast<std::uint32_t>(t), static_cast<std::uint8_t>(f),
                                         [this] { return stamp(); }))) {
      notify_peer();
      count(payload.size());
      return true;
    }
    return false;
  }

  SHMRING_NOINLINE bool send_slow(std::span<const std::byte> payload, message_type t, message_flags f,
                                  std::chrono::steady_clock::time_point deadline) {
    detail::bump(stats_->stalls);
    record_writer::outgoing o{payload.data(), payload.size(), static_cast<std::uint32_t>(t),
                              static_cast<std::uint8_t>(f), stamp()};
    for (;;) {
      bool published = false;
      const record_writer::progress p = writer_.write_some(o, published);
      if (published) notify_peer();
      if (p == record_writer::progress::done) {
        count(payload.size());
        return true;
      }
      wait_status s = wait_status::corrupted;
      if (p != record_writer::progress::corrupted) s = wait_room(writer_.room_needed(o), deadline);
      if (s == wait_status::ready) continue;
      if (writer_.abort(o)) detail::bump(detail::stat_word(*stats_, detail::stats_word::aborted));
      if (s == wait_status::timeout) return false;
      fail(s);
    }
  }

  std::optional<std::span<std::byte>> reserve_until(std::size_t n, std::chrono::steady_clock::time_point deadline) {
    if (n > writer_.max_payload())
      throw error(errc::message_too_large, ep_.name(),
                  "a reservation of " + std::to_string(n) + " bytes is over max_record_payload() (" +
                      std::to_string(writer_.max_payload()) + ")");
    if (writer_.reservation_open())
      throw error(errc::invalid_argument, ep_.name(), "a reservation is open already: commit() or abandon() it first");
    if (std::byte* p = writer_.try_reserve(n)) return std::span<std::byte>(p, n);
    detail::bump(stats_->stalls);
    for (;;) {
      wait_status s = wait_status::corrupted;
      if (!writer_.corrupted()) s = wait_room(writer_.room_needed({nullptr, n}), deadline);
      if (s == wait_status::timeout) return std::nullopt;
      if (s != wait_status::ready) fail(s);
      if (std::byte* p = writer_.try_reserve(n)) return std::span<std::byte>(p, n);
    }
  }

  [[noreturn]] void fail(wait_status s) {
    if (s == wait_status::corrupted || writer_.corrupted()) {
      detail::mark_corrupted(*stats_);
      throw error(errc::corrupted, ep_.name(), "the consumer's index is out of range; the ring is unusable");
    }
    detail::throw_wait(s, ep_);
  }

  wait_status wait_room(std::uint64_t want, std::chrono::steady_clock::time_point deadline) {
    return wait_until(
        [this, want] {
          if (writer_.poll_room(want)) return poll_result::ready;
          return writer_.corrupted() ? poll_result::corrupted : poll_result::not_ready;
        },
        [this] { return ep_.peer(); }, ep_.my_wait(), *stats_, ep_.opts().wait, deadline);
  }

  void notify_peer() noexcept { notify(*peer_wait_, stats_->wake_calls); }

  detail::endpoint ep_;
  record_writer writer_;
  layout::wait_line* peer_wait_;  // where the consumer sleeps: checked after every publish
  layout::stats_line* stats_;     // this side's counters
  bool timestamps_;               // options::timestamps: whether stamp() reads the clock
};

/// The consuming side of a message ring. Only one may be attached to a segment at a time; one thread uses it.
///
/// Corruption: when anything read from the ring is impossible (see docs/layout.md), the consumer stops reading the
/// ring for good. Waiting calls throw errc::corrupted; try_ calls return nothing, and corrupted() / corruption()
/// tell an empty ring from a broken one.
class message_consumer {
 public:
  /// Creates the segment name with a data area of capacity bytes (a power of two, at least 128) and attaches as
  /// its consumer.
  static message_consumer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_consumer(detail::endpoint::create(name, side::consumer, detail::message_expectation(capacity), o));
  }
  /// Opens an existing message ring and attaches as its consumer. capacity 0 accepts the segment's.
  static message_consumer open(std::string_view name, const options& o = {}, std::uint64_t capacity = 0) {
    return message_consumer(detail::endpoint::open(name, side::consumer, detail::message_expectation(capacity), o));
  }
  /// Opens the message ring, or creates it with capacity bytes if there is none. A segment whose creator died
  /// while setting it up is reclaimed as create() does (this then waits at least twice open_timeout); a live
  /// creator still setting it up gives errc::not_ready.
  static message_consumer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_consumer(detail::endpoint::open_or_create(name, side::consumer, detail::message_expectation(capacity), o));
  }

  /// Moves the attachment (and a message held by try_read()); the moved-from object is unusable.
  message_consumer(message_consumer&&) noexcept = default;

  // ------------------------------------------------------------------------------------------ owning copies

  /// Consumer thread only. The next message as an owning copy, or nothing when none is complete yet (or the ring
  /// is corrupted: see corrupted()). Allocates the payload (a reassembled one is moved, not copied).
  [[nodiscard]] std::optional<message> try_receive() {
    if (!next(false, {})) return std::nullopt;
    return take();
  }
  /// Consumer thread only. The next message, waiting as the wait policy says. Throws errc::peer_dead if the
  /// producer dies while we wait (everything it completed first is still delivered), errc::corrupted.
  message receive() {
    (void)next(true, std::chrono::steady_clock::time_point::max());
    return take();
  }
  /// Consumer thread only. As receive(), waiting at most d; nothing on timeout.
  [[nodiscard]] std::optional<message> receive_for(std::chrono::nanoseconds d) {
    if (!next(true, detail::deadline_after(d))) return std::nullopt;
    return take();
  }

  // ------------------------------------------------------------------------------------------ into a buffer

  /// Consumer thread only. Copies the next message's payload into out and returns its info; nothing when none is
  /// complete (or corrupted). If the message is longer than out, NOTHING is consumed or copied and the returned
  /// info has length > out.size(): call again with a buffer of at least info.length bytes. Allocates only to
  /// reassemble a fragmented message (the buffer is kept for the next one).
  [[nodiscard]] std::optional<message_info> try_receive(std::span<std::byte> out) {
    if (!next(false, {})) return std::nullopt;
    return copy_out(out);
  }
  /// Consumer thread only. As try_receive(out), waiting; throws as receive() does.
  message_info receive(std::span<std::byte> out) {
    (void)next(true, std::chrono::steady_clock::time_point::max());
    return copy_out(out);
  }
  /// Consumer thread only. As try_receive(out), waiting at most d; nothing on timeout.
  [[nodiscard]] std::optional<message_info> receive_for(std::span<std::byte> out, std::chrono::nanoseconds d) {
    if (!next(true, detail::deadline_after(d))) return std::nullopt;
    return copy_out(out);
  }

  // ------------------------------------------------------------------------------------------ strings, typed

  /// Consumer thread only. The next message's payload as a string (any type, any bytes).
  [[nodiscard]] std::optional<std::string> try_receive_string() {
    if (!next(false, {})) return std::nullopt;
    return take_string();
  }
  /// Consumer thread only. As try_receive_string(), waiting; throws as receive() does.
  std::string receive_string() {
    (void)next(true, std::chrono::steady_clock::time_point::max());
    return take_string();
  }
  /// Consumer thread only. As receive_string(), waiting at most d; nothing on timeout.
  [[nodiscard]] std::optional<std::string> receive_string_for(std::chrono::nanoseconds d) {
    if (!next(true, detail::deadline_after(d))) return std::nullopt;
    return take_string();
  }

  /// Consumer thread only. The next message's payload as a T (sent with send_typed<T>). Throws errc::type_mismatch
  /// if its size is not sizeof(T), and then leaves the message where it is (receive it with try_receive()).
  template <trivially_copyable_message T>
  [[nodiscard]] std::optional<T> try_receive_typed() {
    if (!next(false, {})) return std::nullopt;
    return take_typed<T>();
  }
  /// Consumer thread only. As try_receive_typed<T>(), waiting; throws as receive() does.
  template <trivially_copyable_message T>
  T receive_typed() {
    (void)next(true, std::chrono::steady_clock::time_point::max());
    return take_typed<T>();
  }
  /// Consumer thread only. As receive_typed<T>(), waiting at most d; nothing on timeout.
  template <trivially_copyable_message T>
  [[nodiscard]] std::optional<T> receive_typed_for(std::chrono::nanoseconds d) {
    if (!next(true, detail::deadline_after(d))) return std::nullopt;
    return take_typed<T>();
  }

  // ------------------------------------------------------------------------------------------ zero copy

  /// Consumer thread only. The next message in place, without copying: valid until release(), which must come
  /// before any other receive. Calling it again before release() returns the same message. A fragmented message
  /// is reassembled first (in a buffer the consumer keeps). Nothing when none is complete (or corrupted).
  [[nodiscard]] std::optional<message_view> try_read() {
    if (!next(false, {})) return std::nullopt;
    return view();
  }
  /// Consumer thread only. As try_read(), waiting; throws as receive() does.
  message_view read() {
    (void)next(true, std::chrono::steady_clock::time_point::max());
    return view();
  }
  /// Consumer thread only. As read(), waiting at most d; nothing on timeout.
  [[nodiscard]] std::optional<message_view> read_for(std::chrono::nanoseconds d) {
    if (!next(true, detail::deadline_after(d))) return std::nullopt;
    return view();
  }
  /// Consumer thread only. Frees the message try_read()/read() returned and wakes a sleeping producer. Does
  /// nothing when none is held.
  void release() noexcept {
    if (reader_.ready()) finish();
  }

  // ------------------------------------------------------------------------------------------ observers

  /// Anyone. Bytes of the data area.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return reader_.capacity(); }
  /// Anyone. The segment's user name.
  [[nodiscard]] const std::string& name() const noexcept { return ep_.name(); }
  /// Consumer thread. Whether the producer is attached and alive, absent, or dead (a system call).
  [[nodiscard]] peer_state producer_state() const noexcept { return ep_.peer(); }
  /// Anyone. Messages received from this segment (by every consumer that attached).
  [[nodiscard]] std::uint64_t received() const noexcept { return stats_->messages.load(std::memory_order_relaxed); }
  /// Anyone. Futex wake system calls this side has made for the producer (all consumers of the segment).
  [[nodiscard]] std::uint64_t wake_calls() const noexcept { return stats_->wake_calls.load(std::memory_order_relaxed); }
  /// Anyone. Futex waits this side has made waiting for data (all consumers of the segment).
  [[nodiscard]] std::uint64_t sleeps() const noexcept { return stats_->sleeps.load(std::memory_order_relaxed); }
  /// Consumer thread. Partial messages this consumer dropped (given up by their producer, or begun by an earlier
  /// consumer); never delivered.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return reader_.dropped(); }
  /// Consumer thread. Payload bytes of the fragmented message being reassembled (0 when none).
  [[nodiscard]] std::uint64_t partial_bytes() const noexcept { return reader_.partial_bytes(); }
  /// Consumer thread. True once something read from the ring was impossible; the ring is then never read again.
  [[nodiscard]] bool corrupted() const noexcept { return reader_.corrupted(); }
  /// Consumer thread. What was impossible and where, or "" when nothing was.
  [[nodiscard]] std::string corruption() const {
    if (!reader_.corrupted()) return {};
    return std::string(reader_.corruption()) + " (record at byte index " + std::to_string(reader_.corruption_index()) + ")";
  }
  /// Anyone. A snapshot of the ring's header (see shmring::status); a few system calls.
  [[nodiscard]] ring_status status() const { return detail::endpoint_status(ep_); }
  /// Consumer thread. Detaches now (the destructor does too). The object is unusable afterwards.
  void detach() noexcept { ep_.detach(); }

 private:
  explicit message_consumer(detail::endpoint ep)
      : ep_(std::move(ep)),
        reader_((detail::check_message_ring(ep_), detail::message_memory(ep_)), ep_.header().control.initial_index),
        dropped_base_(detail::stat_word(ep_.my_stats(), detail::stats_word::dropped).load(std::memory_order_relaxed)),
        peer_wait_(&ep_.peer_wait()),
        stats_(&ep_.my_stats()) {
    if (reader_.corrupted()) {
      detail::mark_corrupted(*stats_);
      throw error(errc::corrupted, ep_.name(), corruption());
    }
  }

  /// Makes a whole message ready in the reader. False when there is none (try_: at once; waiting: on timeout).
  bool next(bool waiting, std::chrono::steady_clock::time_point deadline) {
    for (bool stalled = false;;) {
      const std::uint64_t before = reader_.tail_index();
      const record_reader::status st = reader_.poll();
      after_poll(before);
      if (SHMRING_LIKELY(st == record_reader::status::ready)) return true;
      if (st == record_reader::status::corrupted) {
        detail::mark_corrupted(*stats_);
        if (waiting) throw_corrupted();
        return false;
      }
      if (!stalled) {
        detail::bump(stats_->stalls);
        stalled = true;
      }
      if (!waiting) return false;
      const wait_status s = wait_until(
          [this] {
            if (reader_.poll_data()) return poll_result::ready;
            return reader_.corrupted() ? poll_result::corrupted : poll_result::not_ready;
          },
          [this] { return ep_.peer(); }, ep_.my_wait(), *stats_, ep_.opts().wait, deadline);
      if (s == wait_status::timeout) return false;
      if (s == wait_status::corrupted) {
        detail::mark_corrupted(*stats_);
        throw_corrupted();
      }
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
    }
  }

  void after_poll(std::uint64_t before) noexcept {
    // The reader stored its tail if it consumed padding or fragments: the producer may be waiting for that room.
    if (reader_.tail_index() != before && !reader_.corrupted()) notify_peer();
    if (SHMRING_UNLIKELY(reader_.dropped() != dropped_seen_)) {
      dropped_seen_ = reader_.dropped();
      detail::stat_word(*stats_, detail::stats_word::dropped).store(dropped_base_ + dropped_seen_, std::memory_order_relaxed);
    }
  }

  [[noreturn]] void throw_corrupted() const { throw error(errc::corrupted, ep_.name(), corruption()); }

  message_info info() const noexcept {
    const record_meta& m = reader_.meta();
    return {static_cast<message_type>(m.type), static_cast<message_flags>(m.flags), m.sequence, m.timestamp_ns, m.length};
  }

  void finish() noexcept {
    const std::uint64_t n = reader_.meta().length;
    if (reader_.release()) notify_peer();
    detail::bump(stats_->messages);
    detail::bump(stats_->bytes, n);
  }

  message take() {
    const record_meta& m = reader_.meta();
    message out{static_cast<message_type>(m.type), static_cast<message_flags>(m.flags), m.sequence, m.timestamp_ns, {}};
    if (reader_.in_place()) {
      const auto p = reader_.payload();
      out.payload.assign(p.begin(), p.end());  // may throw bad_alloc: the message stays ready for the next call
    } else {
      out.payload = reader_.take_buffer();
    }
    finish();
    return out;
  }

  message_info copy_out(std::span<std::byte> out) noexcept {
    const message_info i = info();
    if (i.length > out.size()) return i;  // not consumed: the caller retries with a larger buffer
    if (i.length != 0) detail::copy_from_peer(out.data(), reader_.payload().data(), i.length);
    finish();
    return i;
  }

  std::string take_string() {
    const auto p = reader_.payload();
    std::string s(reinterpret_cast<const char*>(p.data()), p.size());
    finish();
    return s;
  }

  template <class T>
  T take_typed() {
    const auto p = reader_.payload();
    if (p.size() != sizeof(T))
      throw error(errc::type_mismatch, ep_.name(),
                  "the next message has " + std::to_string(p.size()) + " payload bytes, the type " +
                      std::to_string(sizeof(T)) + "; it stays in the ring");
    std::array<std::byte, sizeof(T)> raw;
    std::memcpy(raw.data(), p.data(), sizeof(T));
    finish();
    return std::bit_cast<T>(raw);
  }

  message_view view() const noexcept { return {info(), reader_.payload()}; }

  void notify_peer() noexcept { notify(*peer_wait_, stats_->wake_calls); }

  detail::endpoint ep_;
  record_reader reader_;
  std::uint64_t dropped_base_;    // the segment's dropped count when we attached
  layout::wait_line* peer_wait_;  // where the producer sleeps: checked after every tail store
  layout::stats_line* stats_;     // this side's counters
  std::uint64_t dropped_seen_ = 0;
};

}  // namespace shmring
