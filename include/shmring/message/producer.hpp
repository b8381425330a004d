// shmring: message_producer, the sending side of variable-length messages between two processes.
// May touch: its own attachment (attach/detach), the record writer over the segment's data area
// (ring/record_writer.hpp), the wait lines (notify on every publish, sleep in waiting calls), its own stats line,
// and the monotonic clock (detail/clock.hpp: the TSC or one clock read per message sent, for the record's
// timestamp, unless options::timestamps is false). The restart rules are in message.hpp.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/attachment.hpp>
#include <shmring/detail/clock.hpp>
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
#include <shmring/ring/record_writer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace shmring {

/// The producing side of a message ring. Only one may be attached to a segment at a time; one thread uses it.
class message_producer : public detail::endpoint_base {
 public:
  /// Creates the segment name with a data area of capacity bytes (a power of two, at least 128) and attaches as
  /// its producer. Throws shmring::error (already_exists, invalid_name, invalid_argument, no_space, ...).
  static message_producer create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_producer(detail::attachment::create(name, side::producer, detail::message_expectation(capacity), o));
  }
  /// Opens an existing message ring and attaches as its producer. capacity 0 accepts the segment's; another
  /// value must match it (errc::capacity_mismatch).
  static message_producer open(std::string_view name, std::uint64_t capacity = 0, const options& o = {}) {
    return message_producer(detail::attachment::open(name, side::producer, detail::message_expectation(capacity), o));
  }
  /// open(name, 0, o): opens an existing segment with these options, whatever its capacity.
  static message_producer open(std::string_view name, const options& o) { return open(name, 0, o); }
  /// Opens the message ring, or creates it with capacity bytes if there is none. An existing ring is opened
  /// whatever its capacity (capacity() tells). A segment whose creator died while setting it up is reclaimed as
  /// create() does (this then waits at least twice open_timeout); a live creator still setting it up gives
  /// errc::not_ready.
  static message_producer open_or_create(std::string_view name, std::uint64_t capacity, const options& o = {}) {
    detail::check_message_create(name, capacity, o);
    return message_producer(detail::attachment::open_or_create(name, side::producer, detail::message_expectation(capacity), o));
  }

  /// Moves the attachment; the moved-from object is unusable (only destructible).
  message_producer(message_producer&& o) noexcept
      : endpoint_base(std::move(o)), writer_(std::move(o.writer_)), peer_wait_(o.peer_wait_), stats_(o.stats_),
        timestamps_(o.timestamps_) {
    ep_.on_inherit(&poison, &writer_);
  }

  // ------------------------------------------------------------------------------------------ copying sends

  /// Producer thread only. Wait-free, no allocation. Sends the whole message (fragmented if it is larger than
  /// max_record_payload()) if it fits in the free space now, or nothing: false when it does not fit, a reservation
  /// is open, the ring is corrupted (see corrupted()), or the message is over max_try_send(). A message of at most
  /// max_try_send() bytes always fits once the ring has drained, wherever its head is, so retrying it is sound;
  /// one over max_try_send() is refused every time (counted as a stall, as before): a retry loop tells the two
  /// apart by payload.size() > max_try_send() (and corrupted()), and sends such a message with send(). Wakes a
  /// sleeping consumer.
  [[nodiscard]] bool try_send(std::span<const std::byte> payload, message_type t = message_type::data,
                              message_flags f = message_flags::none) noexcept {
    if (SHMRING_LIKELY(writer_.try_write(payload, static_cast<std::uint32_t>(t), static_cast<std::uint8_t>(f),
                                         [this] { return stamp(); })) ||
        (SHMRING_UNLIKELY(ep_.refresh_durable_tail()) &&  // a file ring under batch/commit: see attachment
         writer_.try_write(payload, static_cast<std::uint32_t>(t), static_cast<std::uint8_t>(f), [this] { return stamp(); }))) {
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
  /// (fragments already published are dropped by the consumer). d is any duration, saturated (hours::max() waits
  /// for ever, a negative one not at all). Throws as send() does.
  template <class Rep, class Period>
  [[nodiscard]] bool send_for(std::span<const std::byte> payload, std::chrono::duration<Rep, Period> d,
                              message_type t = message_type::data, message_flags f = message_flags::none) {
    if (SHMRING_LIKELY(try_send_fast(payload, t, f))) return true;
    return send_slow(payload, t, f, detail::deadline_after(d));
  }

  /// Producer thread only. send() of the characters of s (BitRPC's spelling). For the other forms:
  /// try_send(text_bytes(s)), send_for(text_bytes(s), d).
  void send_string(std::string_view s, message_type t = message_type::data, message_flags f = message_flags::none) {
    send(text_bytes(s), t, f);
  }
  /// Producer thread only. send() of the object bytes of v (BitRPC's spelling; receive with receive_typed<T>() or
  /// message::as<T>()). For the other forms: try_send(object_bytes(v)), send_for(object_bytes(v), d).
  template <trivially_copyable_message T>
  void send_typed(const T& v, message_type t = message_type::data, message_flags f = message_flags::none) {
    // A T with shmring_type_name tags its records (record::tag_of), so a receiver of another named type refuses it.
    constexpr std::uint16_t tag = record::tag_of(type_name_of<T>());
    if (SHMRING_LIKELY(try_send_fast(object_bytes(v), t, f, tag))) return;
    (void)send_slow(object_bytes(v), t, f, std::chrono::steady_clock::time_point::max(), tag);
  }

  // ------------------------------------------------------------------------------------------ zero copy

  /// Producer thread only. Wait-free. Reserves n contiguous payload bytes in the ring (n <= max_record_payload())
  /// and returns them (8-byte aligned) to be written in place; nothing is visible to the consumer until commit().
  /// Nothing when there is no room, n is too large, a reservation is open already, or the ring is corrupted.
  [[nodiscard]] std::optional<std::span<std::byte>> try_reserve(std::size_t n) noexcept {
    if (std::byte* p = writer_.try_reserve(n); SHMRING_LIKELY(p != nullptr)) return std::span<std::byte>(p, n);
    if (ep_.refresh_durable_tail())  // a file ring under batch/commit: see attachment
      if (std::byte* p = writer_.try_reserve(n)) return std::span<std::byte>(p, n);
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

  /// Producer thread only. As reserve(), waiting at most d (any duration, saturated); nothing on timeout.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<std::span<std::byte>> reserve_for(std::size_t n, std::chrono::duration<Rep, Period> d) {
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

  // ------------------------------------------------------------------------------------------ relaying records

  /// A message relayed piece by piece from another ring (shmring-bridge, docs/bridge.md): set size, type, flags,
  /// timestamp_ns and type_tag as the original carried them; sent counts the payload bytes published so far. A
  /// relay that resumes a message an earlier producer of this ring left half-written sets started, sequence and
  /// sent to where it stopped (the consumer then sees the rest of the same message).
  using relay_message = record_writer::outgoing;

  /// Producer thread only. Writes piece, the payload bytes [o.sent, o.sent + piece.size()) of o, waiting for room
  /// until deadline; true once all of it is published (o.sent advanced), false on timeout (o.sent tells how far
  /// it got). before_publish(new_head) is called before every index store that publishes. A message's first
  /// record carries next_sequence() (see set_next_sequence). Throws as send() does; errc::invalid_argument if the
  /// piece would run past o.size or a reservation is open.
  template <class BeforePublish>
  bool relay_until(relay_message& o, std::span<const std::byte> piece, std::chrono::steady_clock::time_point deadline,
                   BeforePublish&& before_publish) {
    if (o.size > max_message_size) detail::throw_too_large(ep_, o.size);
    if (writer_.reservation_open() || piece.size() > o.size - o.sent)
      throw error(errc::invalid_argument, ep_.name(), "a relayed piece past its message's end, or a reservation open");
    o.data = piece.data();
    o.base = o.sent;
    o.limit = o.sent + piece.size();
    for (;;) {
      bool published = false;
      const record_writer::progress p = writer_.write_some(o, published, before_publish);
      if (published) notify_peer();
      if (p == record_writer::progress::done) {
        count(o.size);
        return true;
      }
      if (p == record_writer::progress::need_data) return true;
      // Deferred records must be visible before we wait: the consumer frees room only by reading them.
      if (writer_.flush(before_publish)) notify_peer();
      wait_status s = wait_status::corrupted;
      if (p != record_writer::progress::corrupted) s = wait_room(writer_.room_needed(o), deadline);
      if (s == wait_status::ready) continue;
      if (s == wait_status::timeout) return false;
      fail(s);
    }
  }
  /// Producer thread only. With deferral on, relay_until() publishes only when it must wait for room, and
  /// relay_flush() publishes the rest with one index store (a relay forwarding a frame of many small messages).
  void relay_defer(bool on) noexcept { writer_.defer_publish(on); }
  /// Producer thread only. Publishes what relay_until() wrote under deferral (before_publish(new_head) first) and
  /// wakes the consumer.
  template <class BeforePublish>
  void relay_flush(BeforePublish&& before_publish) {
    if (writer_.flush(before_publish)) notify_peer();
    durable(sync_policy::batch);
  }
  /// Producer thread only. Gives up o after some of it was published: the consumer drops it when the next message
  /// (flag_resync) starts. True if o had been started.
  bool relay_abort(const relay_message& o) noexcept { return writer_.abort(o); }
  /// Producer thread only. The next message starts with sequence s (a relay keeps its source's sequences). A
  /// change marks that message flag_resync; set only a sequence not yet published (the consumer refuses one that
  /// goes backwards).
  void set_next_sequence(std::uint64_t s) noexcept { writer_.set_next_sequence(s); }
  /// Producer thread only. The byte index the next record will be written at (what a relay journals).
  [[nodiscard]] std::uint64_t head_index() const noexcept { return writer_.head_index(); }

  // ------------------------------------------------------------------------------------------ observers

  /// Anyone. Bytes of the data area.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return writer_.capacity(); }
  /// Anyone. The largest payload of one record: of a reservation, and of a message sent without fragmenting.
  [[nodiscard]] std::uint64_t max_record_payload() const noexcept { return writer_.max_payload(); }
  /// Anyone. The largest message try_send() sends: capacity() - 96 (three record headers), at most
  /// max_message_size. It fits into a drained ring from any head position; a larger message may never fit whole
  /// (try_send() refuses it every time), and send() streams it fragment by fragment.
  [[nodiscard]] std::uint64_t max_try_send() const noexcept { return writer_.max_try(); }
  /// Producer thread. Whether the consumer is attached and alive, absent, dead, or closed (a system call).
  [[nodiscard]] peer_state consumer_state() const noexcept { return ep_.peer(); }
  /// Producer thread. The sequence number the next message will carry.
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return writer_.next_sequence(); }
  /// Anyone. Messages completely sent into this segment (by every producer that attached).
  [[nodiscard]] std::uint64_t sent() const noexcept { return stats_->messages.load(std::memory_order_relaxed); }
  /// Producer thread. True once the consumer's index was seen out of range; every send then fails.
  [[nodiscard]] bool corrupted() const noexcept { return writer_.corrupted(); }
  /// Producer thread. Ends the stream: an open reservation is abandoned, the consumer receives every message sent
  /// before, then its waiting calls throw errc::closed (try_ calls return nothing) and producer_state() says
  /// closed. Detaches; the object is unusable afterwards. A producer that attaches later starts a new stream.
  void close() noexcept {
    writer_.abandon();
    ep_.close();
  }

 private:
  explicit message_producer(detail::attachment ep)
      : endpoint_base(std::move(ep)),
        writer_(detail::message_memory(ep_),
                detail::stat_word(ep_.my_stats(), layout::stats_word::next_sequence).load(std::memory_order_relaxed),
                // A producer attached before us: whatever it left half-sent must be dropped, not completed.
                ep_.header().attach.producer.attach_count.load(std::memory_order_relaxed) > 1,
                &detail::stat_word(ep_.my_stats(), layout::stats_word::next_sequence)),
        peer_wait_(&ep_.peer_wait()),
        stats_(&ep_.my_stats()),
        timestamps_(ep_.opts().timestamps) {
    if (writer_.corrupted())
      throw error(errc::corrupted, ep_.name(), "the ring's indices are out of range or not multiples of 8");
    ep_.on_inherit(&poison, &writer_);
  }

  // In a fork child (detail::attachment::on_fork_child): every try_ call fails from now on, waiting calls throw
  // errc::inherited.
  static void poison(void* w) noexcept { static_cast<record_writer*>(w)->poison(); }

  /// A record's timestamp: the monotonic clock (from the TSC where detail/clock.hpp can), or 0 for a producer made
  /// with options::timestamps = false.
  [[nodiscard]] std::uint64_t stamp() const noexcept { return timestamps_ ? detail::timestamp_ns() : 0; }

  /// After each whole message published (every path: try_send, send, commit, relay).
  void count(std::uint64_t bytes) noexcept {
    detail::bump(stats_->messages);
    detail::bump(stats_->bytes, bytes);
    durable(sync_policy::commit);
  }

  /// A file-backed ring whose policy is at least `p` (batch: relay_flush; commit: every message): syncs what this
  /// producer published (detail::attachment::sync_written). One load and a predictable branch otherwise.
  void durable(sync_policy p) noexcept {
    const sync_policy mine = ep_.durability();
    if (SHMRING_UNLIKELY(mine != sync_policy::none && mine >= p)) (void)ep_.sync_written(writer_.head_index());
  }

  bool try_send_fast(std::span<const std::byte> payload, message_type t, message_flags f, std::uint16_t tag = 0) {
    if (SHMRING_UNLIKELY(payload.size() > max_message_size)) detail::throw_too_large(ep_, payload.size());
    if (SHMRING_UNLIKELY(writer_.reservation_open()))
      throw error(errc::invalid_argument, ep_.name(), "send while a reservation is open: commit() or abandon() it first");
    if (SHMRING_LIKELY(writer_.try_write(payload, static_cast<std::uint32_t>(t), static_cast<std::uint8_t>(f),
                                         [this] { return stamp(); }, tag))) {
      notify_peer();
      count(payload.size());
      return true;
    }
    return false;
  }

  SHMRING_NOINLINE bool send_slow(std::span<const std::byte> payload, message_type t, message_flags f,
                                  std::chrono::steady_clock::time_point deadline, std::uint16_t tag = 0) {
    detail::bump(stats_->stalls);
    record_writer::outgoing o{payload.data(), payload.size(), static_cast<std::uint32_t>(t),
                              static_cast<std::uint8_t>(f), stamp()};
    o.type_tag = tag;
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
      if (writer_.abort(o)) detail::bump(detail::stat_word(*stats_, layout::stats_word::aborted));
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
    ep_.check_owner();
    ep_.check_intact();  // the zero pages of a truncated segment look corrupted
    if (s == wait_status::corrupted || writer_.corrupted()) {
      detail::mark_corrupted(*stats_);
      throw error(errc::corrupted, ep_.name(), "the consumer's index is out of range; the ring is unusable");
    }
    detail::throw_wait(s, ep_);
  }

  wait_status wait_room(std::uint64_t want, std::chrono::steady_clock::time_point deadline) {
    return wait_until(
        [this, want] {
          if (SHMRING_UNLIKELY(ep_.truncated())) return poll_result::corrupted;  // reported as truncated
          (void)ep_.refresh_durable_tail();  // a file ring under batch/commit: the room storage knows of
          if (writer_.poll_room(want)) return poll_result::ready;
          if (writer_.corrupted()) return poll_result::corrupted;
          return ep_.peer_closed() ? poll_result::closed : poll_result::not_ready;
        },
        [this] {
          (void)ep_.check_truncated();  // pages past a new end of the object may not have faulted yet
          return ep_.peer();
        }, ep_.my_wait(), *stats_, ep_.opts().wait, deadline);
  }

  void notify_peer() noexcept { detail::notify_peer_quiet(ep_, *peer_wait_, stats_->wake_calls); }

  record_writer writer_;
  layout::wait_line* peer_wait_;  // where the consumer sleeps: checked after every publish
  layout::stats_line* stats_;     // this side's counters
  bool timestamps_;               // options::timestamps: whether stamp() reads the clock
};

}  // namespace shmring
