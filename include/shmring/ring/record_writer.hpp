// shmring: the producing side of a message ring (framed records, layout/record.hpp) over memory it is given.
// May touch: the two shared byte indices (stores head, loads tail), the data area it is handed and (optionally)
// one sequence word; nothing else. It makes no system call and reads no clock (the producer passes a clock
// callable in), so it is unit-tested and run under ThreadSanitizer on heap memory exactly as in shared memory.
// Nothing read from the consumer's index is trusted: it may only move forward, up to our head.
#pragma once

#include <shmring/config.hpp>
#include <shmring/layout/record.hpp>
#include <shmring/ring/byte_memory.hpp>
#include <shmring/ring/crc32c.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace shmring {

/// The producing side of a message ring over given memory. One thread (or process) uses it.
class record_writer {
 public:
  /// A message being sent, possibly over several write_some() calls.
  struct outgoing {
    const std::byte* data = nullptr;
    std::uint64_t size = 0;
    std::uint32_t type = 0;
    std::uint8_t flags = 0;          ///< user flags; framing bits are ignored
    std::uint64_t timestamp_ns = 0;
    std::uint64_t sent = 0;          ///< payload bytes written so far
    std::uint64_t sequence = 0;      ///< assigned when the first record is written
    bool started = false;            ///< the first record is written (and published)
    std::uint16_t type_tag = 0;      ///< record::tag_of the payload type's name, or 0
    // A message relayed in pieces (shmring-bridge): data holds its payload bytes [base, limit) only, and
    // write_some stops with need_data at limit. The defaults mean "data holds the whole message".
    std::uint64_t base = 0;                    ///< the message offset of data[0]
    std::uint64_t limit = ~std::uint64_t{0};   ///< payload bytes of the message that data reaches to
  };
  enum class progress : std::uint8_t { done, need_room, corrupted, need_data };

  /// Adopts the indices as they are. next_sequence is the sequence of the next message; resync_first marks its
  /// first record flag_resync (a producer that attaches to a ring a previous producer used). sequence_word, if
  /// given, receives next_sequence before every message's first record is published (a later producer resumes
  /// from it).
  record_writer(byte_ring_memory m, std::uint64_t next_sequence, bool resync_first,
                std::atomic<std::uint64_t>* sequence_word = nullptr) noexcept
      : head_idx_(m.head),
        tail_idx_(m.tail),
        data_(m.data),
        capacity_(m.capacity),
        mask_(m.capacity - 1),
        trailer_(m.trailer == record::trailer_size ? record::trailer_size : 0),
        max_payload_(record::valid_capacity(m.capacity) ? record::max_payload(m.capacity, trailer_) : 0),
        max_try_(record::valid_capacity(m.capacity) ? max_try_write(m.capacity, trailer_) : 0),
        seq_word_(sequence_word),
        next_seq_(next_sequence),
        resync_pending_(resync_first) {
    // SYNC POINT READ: adoption. Pairs with the release stores of the sides that ran before us (or the creator's
    // initialisation, published by its release store of the segment's ready word).
    head_ = head_idx_->load(std::memory_order_acquire);
    cached_tail_ = tail_idx_->load(std::memory_order_acquire);
    corrupted_ = !record::valid_capacity(capacity_) || head_ - cached_tail_ > capacity_ || (head_ % 8) != 0;
  }

  record_writer(record_writer&&) noexcept = default;
  record_writer(const record_writer&) = delete;
  record_writer& operator=(const record_writer&) = delete;

  /// The largest message try_write() takes: capacity - 96 bytes (at most max_message_size). A message that
  /// size fits into an empty ring from any head position: records are at most capacity/2 bytes, and a message's
  /// fragments fill the bytes up to the end of the data area instead of padding them (fragment_at), so a message
  /// needs its payload plus at most three 32-byte headers (or two and under 40 bytes of padding). A larger one may
  /// never fit whole (1000 bytes need 1096 in a 1024-byte ring), so try_write() refuses it at once, always.
  /// Checksummed records (trailer 8) need 3 * (32 + 8) bytes instead.
  static constexpr std::uint64_t max_try_write(std::uint64_t capacity, std::uint64_t trailer = 0) noexcept {
    return std::min<std::uint64_t>(capacity - 3 * (record::header_size + trailer), max_message_size);
  }

  /// Producer side only. Wait-free. Writes the whole message (fragmented if larger than max_payload()) and
  /// publishes it with one index store, or writes nothing and returns false when it does not fit in the free
  /// space now, is over max_try() (then always, see max_try_write), a reservation is open, or the ring is
  /// corrupted. now() is called once, only when the message fits, for the timestamp.
  /// type_tag: record::tag_of the payload type's declared name, or 0.
  template <class Clock>
  [[nodiscard]] bool try_write(std::span<const std::byte> payload, std::uint32_t type, std::uint8_t flags,
                               Clock&& now, std::uint16_t type_tag = 0) noexcept {
    const std::uint64_t n = payload.size();
    if (SHMRING_UNLIKELY(corrupted_ || reserved_ || n > max_message_size)) return false;
    if (SHMRING_LIKELY(n <= max_payload_)) {  // one record: the hot path
      const std::uint64_t size = record::size_of(n, trailer_);
      const std::uint64_t need = room_at(head_, size);
      if (free_at(head_) < need && (!refresh_tail() || free_at(head_) < need)) return false;
      const std::uint64_t seq = begin_message();
      const record::header h{static_cast<std::uint32_t>(n), record::kind_data,
                             first_flags(flags, true), type_tag, type, static_cast<std::uint32_t>(n),
                             seq, static_cast<std::uint64_t>(now())};
      publish(put(head_, h, payload.data()));
      return true;
    }
    if (n > max_try_) return false;  // may never fit whole from some head positions: refused from every one
    const std::uint64_t need = need_whole(n);
    if (free_at(head_) < need && (!refresh_tail() || free_at(head_) < need)) return false;
    outgoing o{payload.data(), n, type, flags, static_cast<std::uint64_t>(now())};
    o.type_tag = type_tag;
    bool published = false;
    return write_some(o, published) == progress::done;
  }

  /// Producer side only. Wait-free. Writes as many whole records of o as fit now (starting it if needed) and
  /// publishes them with one index store; published says whether anything was. done once its last record is out.
  [[nodiscard]] progress write_some(outgoing& o, bool& published) noexcept {
    return write_some(o, published, [](std::uint64_t) noexcept {});
  }

  /// As write_some(o, published), calling before_publish(new_head) just before the index store that publishes
  /// (a relay journals where the head will be before it gets there: tools/bridge, docs/bridge.md).
  template <class BeforePublish>
  [[nodiscard]] progress write_some(outgoing& o, bool& published, BeforePublish&& before_publish) noexcept {
    published = false;
    if (SHMRING_UNLIKELY(corrupted_)) return progress::corrupted;
    if (SHMRING_UNLIKELY(reserved_ || o.size > max_message_size || max_payload_ == 0)) return progress::need_room;
    std::uint64_t pos = head_;
    bool refreshed = false;
    progress result = progress::need_room;
    for (;;) {
      if (SHMRING_UNLIKELY(o.sent >= o.limit && o.sent != o.size)) {
        result = progress::need_data;
        break;
      }
      const std::uint64_t len = piece_at(pos, o);
      const std::uint64_t size = record::size_of(len, trailer_);
      const std::uint64_t need = room_at(pos, size);
      if (free_at(pos) < need) {
        if (refreshed) break;
        refreshed = true;
        if (!refresh_tail()) {
          result = progress::corrupted;
          break;
        }
        if (free_at(pos) < need) break;
      }
      const bool last = o.sent + len == o.size;
      std::uint8_t f = static_cast<std::uint8_t>((o.flags & record::user_flags) | (last ? record::flag_last_fragment : 0) |
                                                 checksum_flag());
      if (!o.started) {
        o.sequence = begin_message();
        o.started = true;
        f = first_flags(o.flags, last);
      }
      const record::header h{static_cast<std::uint32_t>(len), record::kind_data, f, o.type_tag, o.type,
                             static_cast<std::uint32_t>(o.size), o.sequence, o.timestamp_ns};
      pos = put(pos, h, o.data + (o.sent - o.base));
      o.sent += len;
      if (last) {
        result = progress::done;
        break;
      }
    }
    if (pos != head_) {
      if (defer_) {  // written, not yet visible: flush() publishes (a relay publishes a whole frame with one store)
        head_ = pos;
        unpublished_ = true;
      } else {
        before_publish(pos);
        publish(pos);
        published = true;
      }
    }
    return result;
  }

  /// Producer side only. With deferral on, write_some() writes records without publishing them; flush()
  /// publishes everything written with one index store. Turning it off does not publish: call flush() first.
  void defer_publish(bool on) noexcept { defer_ = on; }
  /// Producer side only. Publishes what write_some() wrote under deferral, calling before_publish(new_head) just
  /// before the store; true if it published anything (the caller then wakes the consumer).
  template <class BeforePublish>
  bool flush(BeforePublish&& before_publish) noexcept {
    if (!unpublished_) return false;
    unpublished_ = false;
    before_publish(head_);
    publish(head_);
    return true;
  }

  /// Producer side only. Bytes of free space the next record of o needs (its padding included).
  [[nodiscard]] std::uint64_t room_needed(const outgoing& o) const noexcept {
    return room_at(head_, record::size_of(piece_at(head_, o), trailer_));
  }

  /// Producer side only. The next message starts with sequence s (a relay keeps the sequence of the ring it
  /// forwards). A change marks that message flag_resync, the one way a reader accepts a jump; a reader refuses a
  /// jump backwards, so a relay sets only a sequence it has not published.
  void set_next_sequence(std::uint64_t s) noexcept {
    if (s == next_seq_) return;
    next_seq_ = s;
    resync_pending_ = true;
    // Relaxed: as in begin_message (read by a later producer after the attach lock).
    if (seq_word_ != nullptr) seq_word_->store(next_seq_, std::memory_order_relaxed);
  }

  /// Producer side only. Gives up o after some of its records were published: the consumer drops what it has
  /// of it when it reads the next message, which carries flag_resync. True if o had been started.
  bool abort(const outgoing& o) noexcept {
    if (!o.started || o.sent == o.size) return false;
    resync_pending_ = true;
    return true;
  }

  /// Producer side only. Wait-free. Reserves room for a record of n payload bytes (n <= max_payload()) and
  /// returns where to write them in place (8-byte aligned), or nullptr when there is no room, n is too large,
  /// a reservation is open or the ring is corrupted. Nothing is visible to the consumer before commit().
  [[nodiscard]] std::byte* try_reserve(std::uint64_t n) noexcept {
    if (SHMRING_UNLIKELY(corrupted_ || reserved_ || n > max_payload_)) return nullptr;
    const std::uint64_t size = record::size_of(n, trailer_);
    const std::uint64_t need = room_at(head_, size);
    if (free_at(head_) < need && (!refresh_tail() || free_at(head_) < need)) return nullptr;
    reserved_ = true;
    res_size_ = n;
    res_pos_ = head_ + (need - size);  // after the padding, if the record would cross the end
    return data_ + (res_pos_ & mask_) + record::header_size;
  }

  /// Producer side only. Publishes the first `used` bytes (clamped to the reservation) of the reserved record as
  /// a whole message. Precondition: a reservation is open.
  void commit(std::uint64_t used, std::uint32_t type, std::uint8_t flags, std::uint64_t timestamp_ns) noexcept {
    if (!reserved_) return;
    used = std::min(used, res_size_);
    if (res_pos_ != head_) pad(head_ & mask_);
    const std::uint64_t seq = begin_message();
    const record::header h{static_cast<std::uint32_t>(used), record::kind_data,
                           first_flags(flags, true), 0, type,
                           static_cast<std::uint32_t>(used), seq, timestamp_ns};
    record::write_header(data_ + (res_pos_ & mask_), h);
    if (trailer_ != 0) write_trailer(data_ + (res_pos_ & mask_), h.length);
    reserved_ = false;
    publish(res_pos_ + record::size_of(used, trailer_));
  }

  /// Producer side only. Drops the open reservation; nothing becomes visible.
  void abandon() noexcept { reserved_ = false; }

  /// Producer side only. Whether a reservation is open, and its size.
  [[nodiscard]] bool reservation_open() const noexcept { return reserved_; }
  [[nodiscard]] std::uint64_t reservation_size() const noexcept { return reserved_ ? res_size_ : 0; }

  /// Producer side only. Re-reads the consumer's index (acquire); true when `want` bytes are free.
  [[nodiscard]] bool poll_room(std::uint64_t want) noexcept {
    if (corrupted_) return false;
    return free_at(head_) >= want || (refresh_tail() && free_at(head_) >= want);
  }

  /// Producer side only. Makes the writer unusable, as if corrupted (a fork child's copy: detail/attachment.hpp).
  void poison() noexcept {
    corrupted_ = true;
    reserved_ = false;
  }

  /// Producer side only. True once the consumer's index was seen out of range; the ring is then unusable.
  [[nodiscard]] bool corrupted() const noexcept { return corrupted_; }
  /// Producer side only. The byte index the next record will be written at.
  [[nodiscard]] std::uint64_t head_index() const noexcept { return head_; }
  /// Producer side only. The sequence the next message will carry.
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_seq_; }
  /// Producer side only. Padding records written so far.
  [[nodiscard]] std::uint64_t paddings() const noexcept { return paddings_; }
  /// Anyone. Bytes of the data area.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  /// Anyone. The largest payload of one record (and of one reservation).
  [[nodiscard]] std::uint64_t max_payload() const noexcept { return max_payload_; }
  /// Anyone. The largest message try_write() takes (max_try_write(capacity())).
  [[nodiscard]] std::uint64_t max_try() const noexcept { return max_try_; }

 private:
  std::uint64_t free_at(std::uint64_t pos) const noexcept { return capacity_ - (pos - cached_tail_); }

  /// Bytes a record of `size` bytes takes when written at pos: itself, plus padding to the end if it would cross.
  std::uint64_t room_at(std::uint64_t pos, std::uint64_t size) const noexcept {
    const std::uint64_t off = pos & mask_;
    return off + size <= capacity_ ? size : (capacity_ - off) + size;
  }

  /// Payload bytes of the next record of a message of `total` bytes with `left` to go, written at pos:
  /// max_payload or the rest, except that a fragment of a fragmented message that would cross the end of the data
  /// area is cut to end exactly there when that leaves it 8 payload bytes or more (an extra 32-byte header instead
  /// of a padding record of 40 bytes or more). A whole message (total <= max_payload) stays one record, padded if
  /// it would cross: it is read in place, never reassembled. The consumer accepts any fragment length.
  std::uint64_t fragment_at(std::uint64_t pos, std::uint64_t total, std::uint64_t left) const noexcept {
    return record::fragment_length(pos, total, left, capacity_, max_payload_, trailer_);  // the format's fragmentation rule
  }

  /// fragment_at, cut at the end of the bytes a relayed piece holds (o.limit).
  std::uint64_t piece_at(std::uint64_t pos, const outgoing& o) const noexcept {
    return std::min(fragment_at(pos, o.size, o.size - o.sent), o.limit - o.sent);
  }

  /// Bytes all records of an n-byte message take when written from head_.
  std::uint64_t need_whole(std::uint64_t n) const noexcept {
    return record::span_of(head_, n, capacity_, max_payload_, trailer_);  // the format's fragmentation rule
  }

  /// The flags of a message's first record; takes the pending resync.
  std::uint8_t first_flags(std::uint8_t user, bool last) noexcept {
    unsigned f = (user & record::user_flags) | record::flag_first_fragment | checksum_flag();
    if (last) f |= record::flag_last_fragment;
    if (resync_pending_) {
      f |= record::flag_resync;
      resync_pending_ = false;
    }
    return static_cast<std::uint8_t>(f);
  }

  std::uint64_t begin_message() noexcept {
    const std::uint64_t seq = next_seq_++;
    // Relaxed: read only by a later producer, after it took the attach lock this process held. Stored before
    // the first record is published, so a successor never reuses a sequence the consumer may have seen.
    if (seq_word_ != nullptr) seq_word_->store(next_seq_, std::memory_order_relaxed);
    return seq;
  }

  void pad(std::uint64_t off) noexcept {
    const record::header p{static_cast<std::uint32_t>(capacity_ - off), record::kind_padding, 0, 0, 0, 0, 0, 0};
    std::memcpy(data_ + off, &p, record::prefix_size);
    ++paddings_;
  }

  /// Writes h and its payload at pos, after a padding record if it would cross the end; returns the index after.
  std::uint64_t put(std::uint64_t pos, const record::header& h, const std::byte* payload) noexcept {
    const std::uint64_t size = record::size_of(h.length, trailer_);
    std::uint64_t off = pos & mask_;
    if (off + size > capacity_) {
      pad(off);
      pos += capacity_ - off;
      off = 0;
    }
    record::write_header(data_ + off, h);
    if (h.length != 0) std::memcpy(data_ + off + record::header_size, payload, h.length);
    if (trailer_ != 0) write_trailer(data_ + off, h.length);
    return pos + size;
  }

  /// flag_checksummed when this ring's records carry a trailer.
  std::uint8_t checksum_flag() const noexcept { return trailer_ != 0 ? record::flag_checksummed : 0; }

  /// Layout 4: the trailer of the record at rec (header and payload written): the CRC-32C of the 32 header bytes
  /// and the payload, as they lie in the ring (this side wrote them and nobody else writes there).
  static void write_trailer(std::byte* rec, std::uint32_t length) noexcept {
    const record::trailer_words t{crc32c::of(rec, record::header_size + std::size_t{length}), length};
    std::memcpy(rec + record::size_of(length), &t, sizeof t);
  }

  void publish(std::uint64_t pos) noexcept {
    head_ = pos;
    // SYNC POINT WRITE: record contents. Pairs with the acquire load of head in record_reader::refresh_head()
    // (consumer) and in status() (observers). Without release the consumer could see the new head before the
    // header and payload bytes it covers.
    head_idx_->store(pos, std::memory_order_release);
  }

  SHMRING_NOINLINE bool refresh_tail() noexcept {
    if (corrupted_) return false;
    // SYNC POINT READ: space reuse. Pairs with the release store of tail in record_reader::publish_tail().
    // Without acquire we could overwrite a record the consumer is still reading.
    const std::uint64_t t = tail_idx_->load(std::memory_order_acquire);
    // The tail may only move forward, up to our head: cached_tail <= t <= head (modulo 2^64).
    if (SHMRING_UNLIKELY(head_ - t > capacity_ || t - cached_tail_ > head_ - cached_tail_)) {
      corrupted_ = true;
      return false;
    }
    cached_tail_ = t;
    return true;
  }

  // Read-only after construction.
  std::atomic<std::uint64_t>* head_idx_;
  std::atomic<std::uint64_t>* tail_idx_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint32_t trailer_;  // 0, or record::trailer_size in a ring of checksummed records (layout 4)
  std::uint64_t max_payload_;
  std::uint64_t max_try_;
  std::atomic<std::uint64_t>* seq_word_;

  // Producer-private.
  std::uint64_t head_ = 0;
  std::uint64_t cached_tail_ = 0;
  std::uint64_t next_seq_;
  std::uint64_t res_pos_ = 0;
  std::uint64_t res_size_ = 0;
  std::uint64_t paddings_ = 0;
  bool resync_pending_;
  bool defer_ = false;        // defer_publish(): write_some leaves publishing to flush()
  bool unpublished_ = false;  // records written past the published head (head_ is ahead of the shared index)
  bool reserved_ = false;
  bool corrupted_ = false;
};

}  // namespace shmring
