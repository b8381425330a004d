// shmring: message_consumer, the receiving side of variable-length messages between two processes.
// May touch: its own attachment (attach/detach), the record reader over the segment's data area
// (ring/record_reader.hpp), the wait lines (notify on every tail store, sleep in waiting calls) and its own stats
// line. The restart rules are in message.hpp.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/attachment.hpp>
#include <shmring/detail/endpoint_base.hpp>
#include <shmring/detail/proc.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/record.hpp>
#include <shmring/message/ring_access.hpp>
#include <shmring/message/types.hpp>
#include <shmring/options.hpp>
#include <shmring/status.hpp>
#include <shmring/wait.hpp>
#include <shmring/detail/copy.hpp>
#include <shmring/ring/record_reader.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace shmring {

/// The consuming side of a message ring. Only one may be attached to a segment at a time; one thread uses it.
///
/// Corruption: when anything read from the ring is impossible (see docs/layout.md), the consumer stops reading the
/// ring for good. Waiting calls throw errc::corrupted; try_ calls return nothing, and corrupted() / corruption()
/// tell an empty ring from a broken one.
class message_consumer : public detail::endpoint_base {
 public:
  /// Creates the segment name with a data area of capacity bytes (a power of two, at least 128) and attaches as
  /// its consumer.
  static message_consumer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_consumer(detail::attachment::create(name, side::consumer, detail::message_expectation(capacity), o));
  }
  /// Opens an existing message ring and attaches as its consumer. capacity 0 accepts the segment's; another
  /// value must match it (errc::capacity_mismatch).
  static message_consumer open(std::string_view name, std::uint64_t capacity = 0, const options& o = {}) {
    return message_consumer(detail::attachment::open(name, side::consumer, detail::message_expectation(capacity), o));
  }
  /// open(name, 0, o): opens an existing segment with these options, whatever its capacity.
  static message_consumer open(std::string_view name, const options& o) { return open(name, 0, o); }
  /// Opens the message ring, or creates it with capacity bytes if there is none. An existing ring is opened
  /// whatever its capacity (capacity() tells). A segment whose creator died while setting it up is reclaimed as
  /// create() does (this then waits at least twice open_timeout); a live creator still setting it up gives
  /// errc::not_ready.
  static message_consumer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_consumer(detail::attachment::open_or_create(name, side::consumer, detail::message_expectation(capacity), o));
  }

  /// Moves the attachment (and a message held by try_read()); the moved-from object is unusable.
  message_consumer(message_consumer&& o) noexcept
      : endpoint_base(std::move(o)), reader_(std::move(o.reader_)), dropped_base_(o.dropped_base_),
        peer_wait_(o.peer_wait_), stats_(o.stats_), dropped_seen_(o.dropped_seen_) {
    ep_.on_inherit(&poison, &reader_);
  }

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
  /// Consumer thread only. As receive(), waiting at most d (any duration, saturated: hours::max() waits for ever,
  /// a negative one not at all); nothing on timeout.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<message> receive_for(std::chrono::duration<Rep, Period> d) {
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
  /// Consumer thread only. As try_receive(out), waiting at most d (any duration, saturated); nothing on timeout.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<message_info> receive_for(std::span<std::byte> out, std::chrono::duration<Rep, Period> d) {
    if (!next(true, detail::deadline_after(d))) return std::nullopt;
    return copy_out(out);
  }

  // ------------------------------------------------------------------------------------------ strings, typed

  /// Consumer thread only. The next message's payload as a string (any type, any bytes), waiting as receive()
  /// does (BitRPC's spelling). For the other forms: try_receive()->text(), receive_for(d)->text().
  std::string receive_string() {
    (void)next(true, std::chrono::steady_clock::time_point::max());
    return take_string();
  }

  /// Consumer thread only. The next message's payload as a T (sent with send_typed<T>), waiting as receive() does
  /// (BitRPC's spelling). Throws errc::type_mismatch if its size is not sizeof(T), and then leaves the message
  /// where it is (receive it with try_receive()). For the other forms: try_receive()->as<T>().
  template <trivially_copyable_message T>
  T receive_typed() {
    (void)next(true, std::chrono::steady_clock::time_point::max());
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
  /// Consumer thread only. As read(), waiting at most d (any duration, saturated); nothing on timeout.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<message_view> read_for(std::chrono::duration<Rep, Period> d) {
    if (!next(true, detail::deadline_after(d))) return std::nullopt;
    return view();
  }
  /// Consumer thread only. Frees the message try_read()/read() returned and wakes a sleeping producer. Does
  /// nothing when none is held.
  void release() noexcept {
    if (reader_.ready()) finish();
  }

  // ------------------------------------------------------------------------------------------ relaying records

  /// Consumer thread only. Record-level read-ahead for a relay (shmring-bridge, docs/bridge.md): the next data
  /// record after those already peeked, checked as every record is, without freeing anything; nothing when none is
  /// published (or the ring is corrupted: see corrupted()). A fragmented message comes as its records. Not to be
  /// mixed with the receiving calls on one consumer.
  [[nodiscard]] std::optional<record_view> try_peek_record() { return peek_until(false, {}); }
  /// Consumer thread only. As try_peek_record(), waiting at most d for a record (any duration, saturated).
  /// Throws errc::peer_dead, errc::corrupted as receive() does; errc::closed once the producer closed and every
  /// record was peeked.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<record_view> peek_record_for(std::chrono::duration<Rep, Period> d) {
    return peek_until(true, detail::deadline_after(d));
  }
  /// Consumer thread only. Frees the records peeked up to byte index to (a record_view::to) and wakes a sleeping
  /// producer; delivered_next, unless 0, is the sequence after the last whole message among them (what a consumer
  /// attaching later resumes from). False, freeing nothing, if to is not a position peeked.
  bool release_records(std::uint64_t to, std::uint64_t delivered_next = 0) noexcept {
    const std::uint64_t before = reader_.published_tail_index();
    if (!reader_.release_to(to, delivered_next)) return false;
    if (reader_.published_tail_index() != before) notify_peer();
    return true;
  }
  /// Consumer thread only. The next peek starts again at the oldest record not released (to resend them).
  void rewind_records() noexcept { reader_.rewind(); }
  /// Consumer thread only. The byte index of the oldest record not released, and of the next one to peek.
  [[nodiscard]] std::uint64_t released_index() const noexcept { return reader_.tail_index(); }
  [[nodiscard]] std::uint64_t peek_index() const noexcept { return reader_.ahead_index(); }

  // ------------------------------------------------------------------------------------------ observers

  /// Anyone. Bytes of the data area.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return reader_.capacity(); }
  /// Consumer thread. Whether the producer is attached and alive, absent, dead, or closed (a system call).
  [[nodiscard]] peer_state producer_state() const noexcept { return ep_.peer(); }
  /// Anyone. Messages received from this segment (by every consumer that attached).
  [[nodiscard]] std::uint64_t received() const noexcept { return stats_->messages.load(std::memory_order_relaxed); }
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

 private:
  explicit message_consumer(detail::attachment ep)
      : endpoint_base(std::move(ep)),
        reader_(detail::message_memory(ep_), ep_.snapshot().initial_index,
                &detail::stat_word(ep_.my_stats(), layout::stats_word::delivered)),
        dropped_base_(detail::stat_word(ep_.my_stats(), layout::stats_word::dropped).load(std::memory_order_relaxed)),
        peer_wait_(&ep_.peer_wait()),
        stats_(&ep_.my_stats()) {
    if (reader_.corrupted()) {
      detail::mark_corrupted(*stats_);
      throw error(errc::corrupted, ep_.name(), corruption());
    }
    ep_.on_inherit(&poison, &reader_);
  }

  // In a fork child (detail::attachment::on_fork_child): every try_ call fails from now on, waiting calls throw
  // errc::inherited.
  static void poison(void* r) noexcept { static_cast<record_reader*>(r)->poison(); }

  /// Makes a whole message ready in the reader. False when there is none (try_: at once; waiting: on timeout).
  bool next(bool waiting, std::chrono::steady_clock::time_point deadline) {
    for (bool stalled = false;;) {
      const std::uint64_t before = reader_.published_tail_index();
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
            if (SHMRING_UNLIKELY(ep_.truncated())) return poll_result::corrupted;  // reported as truncated
            if (reader_.poll_data()) return poll_result::ready;
            if (reader_.corrupted()) return poll_result::corrupted;
            if (!ep_.peer_closed()) return poll_result::not_ready;
            // Closed: its last index store came before that state, and the acquire above made it visible.
            if (reader_.poll_data()) return poll_result::ready;
            return reader_.corrupted() ? poll_result::corrupted : poll_result::closed;
          },
          [this] {
            (void)ep_.check_truncated();  // pages past a new end of the object may not have faulted yet
            return ep_.peer();
          }, ep_.my_wait(), *stats_, ep_.opts().wait, deadline);
      if (s == wait_status::timeout) return false;
      if (s == wait_status::corrupted) {
        detail::mark_corrupted(*stats_);
        throw_corrupted();
      }
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
    }
  }

  std::optional<record_view> peek_until(bool waiting, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      record_view v;
      const record_reader::status st = reader_.peek(v);
      if (SHMRING_LIKELY(st == record_reader::status::ready)) return v;
      if (st == record_reader::status::corrupted) {
        detail::mark_corrupted(*stats_);
        if (waiting) throw_corrupted();
        return std::nullopt;
      }
      if (!waiting) return std::nullopt;
      const wait_status s = wait_until(
          [this] {
            if (SHMRING_UNLIKELY(ep_.truncated())) return poll_result::corrupted;  // reported as truncated
            if (reader_.poll_ahead()) return poll_result::ready;
            if (reader_.corrupted()) return poll_result::corrupted;
            if (!ep_.peer_closed()) return poll_result::not_ready;
            // Closed: its last index store came before that state, and the acquire above made it visible.
            if (reader_.poll_ahead()) return poll_result::ready;
            return reader_.corrupted() ? poll_result::corrupted : poll_result::closed;
          },
          [this] {
            (void)ep_.check_truncated();
            return ep_.peer();
          }, ep_.my_wait(), *stats_, ep_.opts().wait, deadline);
      if (s == wait_status::timeout) return std::nullopt;
      if (s == wait_status::corrupted) {
        detail::mark_corrupted(*stats_);
        throw_corrupted();
      }
      if (s != wait_status::ready) detail::throw_wait(s, ep_);
    }
  }

  void after_poll(std::uint64_t before) noexcept {
    // The reader stored its tail if it consumed padding or fragments: the producer may be waiting for that room.
    if (reader_.published_tail_index() != before && !reader_.corrupted()) notify_peer();
    if (SHMRING_UNLIKELY(reader_.dropped() != dropped_seen_)) {
      dropped_seen_ = reader_.dropped();
      detail::stat_word(*stats_, layout::stats_word::dropped).store(dropped_base_ + dropped_seen_, std::memory_order_relaxed);
    }
  }

  [[noreturn]] void throw_corrupted() const {
    ep_.check_owner();
    ep_.check_intact();  // the zero pages of a truncated segment look corrupted
    throw error(errc::corrupted, ep_.name(), corruption());
  }

  message_info info() const noexcept {
    const record_meta& m = reader_.meta();
    return {static_cast<message_type>(m.type), static_cast<message_flags>(m.flags), m.sequence, m.timestamp_ns, m.length,
            m.type_tag};
  }

  void finish() noexcept {
    const std::uint64_t n = reader_.meta().length;
    if (reader_.release()) notify_peer();
    detail::bump(stats_->messages);
    detail::bump(stats_->bytes, n);
  }

  message take() {
    const record_meta& m = reader_.meta();
    message out{static_cast<message_type>(m.type), static_cast<message_flags>(m.flags), m.sequence, m.timestamp_ns, {},
                m.type_tag};
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
    if (const std::string why = detail::tag_mismatch<T>(reader_.meta().type_tag); !why.empty())
      throw error(errc::type_mismatch, ep_.name(), why + "; it stays in the ring");
    if (p.size() != sizeof(T))
      throw error(errc::type_mismatch, ep_.name(),
                  "the next message has " + std::to_string(p.size()) + " payload bytes, the type " +
                      std::to_string(sizeof(T)) + "; it stays in the ring");
    const T v = detail::payload_as<T>(p, reader_.meta().type_tag);
    finish();
    return v;
  }

  message_view view() const noexcept { return {info(), reader_.payload()}; }

  void notify_peer() noexcept { detail::notify_peer_quiet(ep_, *peer_wait_, stats_->wake_calls); }

  record_reader reader_;
  std::uint64_t dropped_base_;    // the segment's dropped count when we attached
  layout::wait_line* peer_wait_;  // where the producer sleeps: checked after every tail store
  layout::stats_line* stats_;     // this side's counters
  std::uint64_t dropped_seen_ = 0;
};

}  // namespace shmring
