// shmring: the framed-record byte ring of a message segment, over memory it is given.
// May touch: the two shared indices, the data area it is handed and (optionally) one sequence word; nothing else.
// It makes no system call and reads no clock (the producer passes a clock callable in), so it is unit-tested,
// fuzzed and run under ThreadSanitizer on heap memory exactly as in shared memory. message.hpp joins it to a
// segment; docs/layout.md ("Message ring data area") documents the bytes.
//
// Design:
// - head and tail are monotonically increasing 64-bit BYTE indices, never wrapped (offset = index & (capacity-1)),
//   always multiples of 8. A record is a 32-byte header and its payload, padded to a multiple of 8 bytes.
// - A record never crosses the end of the data area: when it would, the producer first writes a padding record
//   that covers exactly the bytes up to the end, and the record starts at offset 0. A record is at most
//   capacity/2 bytes, so it always fits once the ring has drained.
// - A message larger than the largest record is cut into fragments: the first carries flag_first_fragment, the
//   last flag_last_fragment (a whole message carries both); all carry the message's sequence, type, flags,
//   timestamp and total length, so the consumer checks that every fragment belongs where it finds it.
// - Nothing read from the data area or the producer's index is trusted: the consumer copies each header out of
//   shared memory once, checks every field against the capacity and the published bytes before using it, and on
//   any violation marks itself corrupted and never reads the ring again. Every call consumes at least 8 bytes
//   per step and re-reads the producer's index at most once, so no call can loop without end.
#pragma once

#include <shmring/config.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace shmring {

/// Largest message payload (1 GiB). A larger one is refused with errc::message_too_large.
inline constexpr std::uint64_t max_message_size = std::uint64_t{1} << 30;
/// Smallest data area of a message ring, in bytes (it must hold records of at least 32 payload bytes).
inline constexpr std::uint64_t min_message_capacity = 128;

/// The record format of a message ring's data area (docs/layout.md, "Message ring data area").
namespace record {

inline constexpr std::uint32_t header_size = 32;  ///< bytes of a data record's header
inline constexpr std::uint32_t alignment = 8;     ///< every record starts at a multiple of 8 bytes
inline constexpr std::uint32_t prefix_size = 8;   ///< bytes of a padding record that carry meaning

inline constexpr std::uint8_t kind_data = 1;     ///< a header and a payload follow
inline constexpr std::uint8_t kind_padding = 2;  ///< skip to the end of the data area

// The flags byte. Bits 0-3 are the BitRPC message flags; bits 4-5 belong to the framing.
inline constexpr std::uint8_t flag_urgent = 0x01;
inline constexpr std::uint8_t flag_compressed = 0x02;
inline constexpr std::uint8_t flag_encrypted = 0x04;
inline constexpr std::uint8_t flag_last_fragment = 0x08;   ///< the last (or only) record of a message
inline constexpr std::uint8_t flag_first_fragment = 0x10;  ///< the first (or only) record of a message
inline constexpr std::uint8_t flag_resync = 0x20;          ///< first record of a new producer session, see below
inline constexpr std::uint8_t user_flags = 0x07;           ///< the flags a sender chooses
inline constexpr std::uint8_t known_flags = 0x3f;          ///< anything else set is corruption

/// A record header as it lies in the data area (little-endian, 32 bytes, at a multiple of 8).
struct header {
  std::uint32_t length;          // +0  payload bytes in this record (padding: bytes from here to the end)
  std::uint8_t kind;             // +4  kind_data or kind_padding
  std::uint8_t flags;            // +5  flag_* bits
  std::uint16_t reserved;        // +6  0
  std::uint32_t type;            // +8  message_type
  std::uint32_t message_length;  // +12 payload bytes of the whole message (every fragment carries it)
  std::uint64_t sequence;        // +16 the message's sequence number (every fragment carries it)
  std::uint64_t timestamp_ns;    // +24 CLOCK_MONOTONIC when the send began (every fragment carries it)
};
static_assert(std::is_standard_layout_v<header> && std::is_trivially_copyable_v<header>);
static_assert(sizeof(header) == header_size);
static_assert(offsetof(header, length) == 0 && offsetof(header, kind) == 4 && offsetof(header, flags) == 5 &&
              offsetof(header, reserved) == 6 && offsetof(header, type) == 8 &&
              offsetof(header, message_length) == 12 && offsetof(header, sequence) == 16 &&
              offsetof(header, timestamp_ns) == 24);

/// Writes h at dst field by field, from registers. A memcpy of a header just built on the stack made gcc load it
/// back in 16-byte pieces, each spanning several narrower stores: such a load cannot be forwarded from the store
/// buffer and waits until those stores, and every older one, reach the cache. The older ones include the payload
/// just written, whose lines the consumer may still hold, so commit() stalled for a cache-line round trip per record
/// (64-byte zero-copy messages without timestamps: 25.6 M/s before, 61.6 M/s after; docs/benchmarks.md).
inline void write_header(std::byte* dst, const header& h) noexcept {
  std::memcpy(dst + offsetof(header, length), &h.length, sizeof h.length);
  std::memcpy(dst + offsetof(header, kind), &h.kind, sizeof h.kind);
  std::memcpy(dst + offsetof(header, flags), &h.flags, sizeof h.flags);
  std::memcpy(dst + offsetof(header, reserved), &h.reserved, sizeof h.reserved);
  std::memcpy(dst + offsetof(header, type), &h.type, sizeof h.type);
  std::memcpy(dst + offsetof(header, message_length), &h.message_length, sizeof h.message_length);
  std::memcpy(dst + offsetof(header, sequence), &h.sequence, sizeof h.sequence);
  std::memcpy(dst + offsetof(header, timestamp_ns), &h.timestamp_ns, sizeof h.timestamp_ns);
}

/// Bytes a data record of `payload` bytes occupies: header + payload rounded up to 8.
constexpr std::uint64_t size_of(std::uint64_t payload) noexcept {
  return (header_size + payload + (alignment - 1)) & ~std::uint64_t{alignment - 1};
}

/// The largest payload one record of a ring of `capacity` bytes carries: capacity/2 - 32, at most 1 GiB.
constexpr std::uint64_t max_payload(std::uint64_t capacity) noexcept {
  return std::min<std::uint64_t>(capacity / 2 - header_size, max_message_size);
}

/// Whether a capacity is usable for a message ring: a power of two in [min_message_capacity, 2^40].
constexpr bool valid_capacity(std::uint64_t capacity) noexcept {
  return capacity >= min_message_capacity && capacity <= (std::uint64_t{1} << 40) && std::has_single_bit(capacity);
}

}  // namespace record

/// Where a message ring lives: the two shared byte indices and the data area, in memory the caller owns.
struct byte_ring_memory {
  std::atomic<std::uint64_t>* head;  ///< next byte the producer writes; stored by the producer only
  std::atomic<std::uint64_t>* tail;  ///< next byte the consumer reads; stored by the consumer only
  std::byte* data;                   ///< capacity bytes, 8-byte aligned
  std::uint64_t capacity;            ///< a power of two >= min_message_capacity
};

/// What a reader knows of a message: the fields every record of it carries.
struct record_meta {
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint32_t type = 0;
  std::uint8_t flags = 0;   ///< user flags only (urgent, compressed, encrypted)
  std::uint32_t length = 0; ///< payload bytes of the whole message
};

// ================================================================================================== writer

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
  };
  enum class progress : std::uint8_t { done, need_room, corrupted };

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
        max_payload_(record::valid_capacity(m.capacity) ? record::max_payload(m.capacity) : 0),
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

  /// Producer side only. Wait-free. Writes the whole message (fragmented if larger than max_payload()) and
  /// publishes it with one index store, or writes nothing and returns false when it does not fit in the free
  /// space now, is over max_message_size, a reservation is open, or the ring is corrupted. now() is called once,
  /// only when the message fits, for the timestamp.
  template <class Clock>
  [[nodiscard]] bool try_write(std::span<const std::byte> payload, std::uint32_t type, std::uint8_t flags,
                               Clock&& now) noexcept {
    const std::uint64_t n = payload.size();
    if (SHMRING_UNLIKELY(corrupted_ || reserved_ || n > max_message_size)) return false;
    if (SHMRING_LIKELY(n <= max_payload_)) {  // one record: the hot path
      const std::uint64_t size = record::size_of(n);
      const std::uint64_t need = room_at(head_, size);
      if (free_at(head_) < need && (!refresh_tail() || free_at(head_) < need)) return false;
      const std::uint64_t seq = begin_message();
      const record::header h{static_cast<std::uint32_t>(n), record::kind_data,
                             first_flags(flags, true), 0, type, static_cast<std::uint32_t>(n),
                             seq, static_cast<std::uint64_t>(now())};
      publish(put(head_, h, payload.data()));
      return true;
    }
    if (n > capacity_) return false;  // can never be in the ring at once
    const std::uint64_t need = need_whole(n);
    if (free_at(head_) < need && (!refresh_tail() || free_at(head_) < need)) return false;
    outgoing o{payload.data(), n, type, flags, static_cast<std::uint64_t>(now())};
    bool published = false;
    return write_some(o, published) == progress::done;
  }

  /// Producer side only. Wait-free. Writes as many whole records of o as fit now (starting it if needed) and
  /// publishes them with one index store; published says whether anything was. done once its last record is out.
  [[nodiscard]] progress write_some(outgoing& o, bool& published) noexcept {
    published = false;
    if (SHMRING_UNLIKELY(corrupted_)) return progress::corrupted;
    if (SHMRING_UNLIKELY(reserved_ || o.size > max_message_size || max_payload_ == 0)) return progress::need_room;
    std::uint64_t pos = head_;
    bool refreshed = false;
    progress result = progress::need_room;
    for (;;) {
      const std::uint64_t len = std::min(o.size - o.sent, max_payload_);
      const std::uint64_t size = record::size_of(len);
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
      std::uint8_t f = static_cast<std::uint8_t>((o.flags & record::user_flags) | (last ? record::flag_last_fragment : 0));
      if (!o.started) {
        o.sequence = begin_message();
        o.started = true;
        f = first_flags(o.flags, last);
      }
      const record::header h{static_cast<std::uint32_t>(len), record::kind_data, f, 0, o.type,
                             static_cast<std::uint32_t>(o.size), o.sequence, o.timestamp_ns};
      pos = put(pos, h, o.data + o.sent);
      o.sent += len;
      if (last) {
        result = progress::done;
        break;
      }
    }
    if (pos != head_) {
      publish(pos);
      published = true;
    }
    return result;
  }

  /// Producer side only. Bytes of free space the next record of o needs (its padding included).
  [[nodiscard]] std::uint64_t room_needed(const outgoing& o) const noexcept {
    return room_at(head_, record::size_of(std::min(o.size - o.sent, max_payload_)));
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
    const std::uint64_t size = record::size_of(n);
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
    reserved_ = false;
    publish(res_pos_ + record::size_of(used));
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

 private:
  std::uint64_t free_at(std::uint64_t pos) const noexcept { return capacity_ - (pos - cached_tail_); }

  /// Bytes a record of `size` bytes takes when written at pos: itself, plus padding to the end if it would cross.
  std::uint64_t room_at(std::uint64_t pos, std::uint64_t size) const noexcept {
    const std::uint64_t off = pos & mask_;
    return off + size <= capacity_ ? size : (capacity_ - off) + size;
  }

  /// Bytes all records of an n-byte message take when written from head_.
  std::uint64_t need_whole(std::uint64_t n) const noexcept {
    std::uint64_t pos = head_, left = n;
    do {
      const std::uint64_t len = std::min(left, max_payload_);
      pos += room_at(pos, record::size_of(len));
      left -= len;
    } while (left != 0);
    return pos - head_;
  }

  /// The flags of a message's first record; takes the pending resync.
  std::uint8_t first_flags(std::uint8_t user, bool last) noexcept {
    unsigned f = (user & record::user_flags) | record::flag_first_fragment;
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
    const std::uint64_t size = record::size_of(h.length);
    std::uint64_t off = pos & mask_;
    if (off + size > capacity_) {
      pad(off);
      pos += capacity_ - off;
      off = 0;
    }
    record::write_header(data_ + off, h);
    if (h.length != 0) std::memcpy(data_ + off + record::header_size, payload, h.length);
    return pos + size;
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
  std::uint64_t max_payload_;
  std::atomic<std::uint64_t>* seq_word_;

  // Producer-private.
  std::uint64_t head_ = 0;
  std::uint64_t cached_tail_ = 0;
  std::uint64_t next_seq_;
  std::uint64_t res_pos_ = 0;
  std::uint64_t res_size_ = 0;
  std::uint64_t paddings_ = 0;
  bool resync_pending_;
  bool reserved_ = false;
  bool corrupted_ = false;
};

// ================================================================================================== reader

/// The consuming side of a message ring over given memory. One thread (or process) uses it.
///
/// poll() makes progress towards the next whole message and reports ready (the message is described by meta()
/// and payload() until release()), empty, or corrupted. A message that fits one record is returned in place
/// (zero copy); a fragmented one is reassembled in a buffer the reader owns (the only allocation).
///
/// Sequence rules: a reader starts "synced" (expecting sequence 0) when the tail is the ring's initial index,
/// i.e. nothing was ever consumed; otherwise it skips the remains of a message whose start an earlier consumer
/// took (counted in dropped()) and adopts the sequence of the first message start it meets. From then on every
/// message must carry exactly the next sequence, except one whose first record has flag_resync (a new producer
/// session, or a producer that gave up a fragmented message): its sequence may jump forward, never back, and a
/// partly reassembled message is dropped (counted in dropped()), never delivered.
class record_reader {
 public:
  enum class status : std::uint8_t { ready, empty, corrupted };

  /// Adopts the indices as they are. initial_index is the index the ring started at (the header's).
  record_reader(byte_ring_memory m, std::uint64_t initial_index) noexcept
      : head_idx_(m.head),
        tail_idx_(m.tail),
        data_(m.data),
        capacity_(m.capacity),
        mask_(m.capacity - 1),
        max_payload_(record::valid_capacity(m.capacity) ? record::max_payload(m.capacity) : 0) {
    // SYNC POINT READ: adoption. Pairs with the release stores of the sides that ran before us.
    tail_ = tail_idx_->load(std::memory_order_acquire);
    published_tail_ = tail_;
    cached_head_ = head_idx_->load(std::memory_order_acquire);
    synced_ = tail_ == initial_index;
    if (!record::valid_capacity(capacity_))
      fail("the capacity is not a power of two of at least 128 bytes");
    else if (cached_head_ - tail_ > capacity_)
      fail("the producer's index is out of range");
    else if (tail_ % 8 != 0 || cached_head_ % 8 != 0)
      fail("an index is not a multiple of 8");
  }

  record_reader(record_reader&&) noexcept = default;
  record_reader(const record_reader&) = delete;
  record_reader& operator=(const record_reader&) = delete;

  /// Consumer side only. Makes progress towards the next whole message; see the class comment. Calling it again
  /// before release() returns the same message. May allocate (std::bad_alloc) to reassemble a fragmented message.
  [[nodiscard]] status poll() {
    if (SHMRING_UNLIKELY(corrupted_)) return status::corrupted;
    if (ready_) return status::ready;
    bool refreshed = false;
    status result = status::empty;
    for (;;) {
      std::uint64_t avail = cached_head_ - tail_;
      if (avail == 0) {
        if (refreshed) break;  // one look at the producer's index per call: a busy producer cannot keep us here
        refreshed = true;
        if (!refresh_head()) {
          result = status::corrupted;
          break;
        }
        avail = cached_head_ - tail_;
        if (avail == 0) break;
      }
      const step s = parse(avail);
      if (s == step::more) continue;
      result = s == step::ready ? status::ready : status::corrupted;
      break;
    }
    if (tail_ != published_tail_ && !corrupted_) publish_tail();
    return result;
  }

  /// Consumer side only. After poll() == ready: the message's sequence, type, flags, timestamp and length.
  [[nodiscard]] const record_meta& meta() const noexcept { return meta_; }
  /// Consumer side only. After poll() == ready: the payload, in the ring or in the reassembly buffer.
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return {payload_, meta_.length}; }
  /// Consumer side only. True between poll() == ready and release().
  [[nodiscard]] bool ready() const noexcept { return ready_; }
  /// Consumer side only. After poll() == ready: true when payload() lies in the ring itself.
  [[nodiscard]] bool in_place() const noexcept { return in_place_; }

  /// Consumer side only. After poll() == ready and !in_place(): moves the reassembled payload out; release()
  /// must still be called.
  [[nodiscard]] std::vector<std::byte> take_buffer() noexcept {
    std::vector<std::byte> out = std::move(buf_);
    buf_ = std::vector<std::byte>();
    payload_ = nullptr;
    return out;
  }

  /// Consumer side only. Frees the message poll() returned (its bytes in the ring go back to the producer).
  /// True when it moved the tail (the caller then wakes the producer).
  bool release() noexcept {
    if (!ready_) return false;
    ready_ = false;
    ++delivered_;
    if (!in_place_) {
      buf_.clear();
      return false;
    }
    tail_ += record_size_;
    publish_tail();
    return true;
  }

  /// Consumer side only. Re-reads the producer's index (acquire); true when unread bytes wait. For waiting calls.
  [[nodiscard]] bool poll_data() noexcept {
    if (corrupted_) return false;
    if (ready_ || cached_head_ != tail_) return true;
    return refresh_head() && cached_head_ != tail_;
  }

  /// Consumer side only. True once anything read from the ring was impossible; the ring is then never read again.
  [[nodiscard]] bool corrupted() const noexcept { return corrupted_; }
  /// Consumer side only. What was impossible (a static string), or nullptr.
  [[nodiscard]] const char* corruption() const noexcept { return why_; }
  /// Consumer side only. The byte index of the record found impossible.
  [[nodiscard]] std::uint64_t corruption_index() const noexcept { return where_; }
  /// Consumer side only. The byte index the next record will be read at.
  [[nodiscard]] std::uint64_t tail_index() const noexcept { return tail_; }
  /// Consumer side only. Messages dropped: partly reassembled ones given up by their producer, and the remains
  /// of a message whose start an earlier consumer took.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }
  /// Consumer side only. Messages released so far.
  [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_; }
  /// Consumer side only. Padding records skipped so far.
  [[nodiscard]] std::uint64_t paddings() const noexcept { return paddings_; }
  /// Consumer side only. Payload bytes of the fragmented message being reassembled (0 when none).
  [[nodiscard]] std::uint64_t partial_bytes() const noexcept { return partial_ ? buf_.size() : 0; }
  /// Consumer side only. The sequence the next message start must carry (once synced).
  [[nodiscard]] std::uint64_t expected_sequence() const noexcept { return expected_; }
  /// Anyone. Bytes of the data area.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

 private:
  enum class step : std::uint8_t { more, ready, corrupted };

  step bad(const char* why) noexcept {
    fail(why);
    return step::corrupted;
  }

  void fail(const char* why) noexcept {
    corrupted_ = true;
    why_ = why;
    where_ = tail_;
  }

  /// Reads the record at tail_ (avail > 0 bytes published from there), checks it and acts on it.
  step parse(std::uint64_t avail) {
    const std::uint64_t off = tail_ & mask_;
    if (avail < record::prefix_size) return bad("fewer than 8 bytes published at a record boundary");
    // One copy out of shared memory; only the copy is checked and used, so a peer changing the bytes under us
    // cannot make a checked value unchecked.
    record::header h{};
    std::memcpy(&h, data_ + off, record::prefix_size);  // off <= capacity - 8: off and capacity are multiples of 8
    if (h.kind == record::kind_padding) {
      if (off == 0) return bad("padding record at the start of the data area");
      if (h.length != capacity_ - off) return bad("padding record does not reach exactly the end of the data area");
      if (h.flags != 0 || h.reserved != 0) return bad("padding record with flags or reserved bits set");
      if (h.length >= avail) return bad("padding record not followed by a published record");
      tail_ += h.length;
      ++paddings_;
      return step::more;
    }
    if (h.kind != record::kind_data) return bad("unknown record kind");
    if (off + record::header_size > capacity_) return bad("record header crosses the end of the data area");
    if (avail < record::header_size) return bad("record header runs past the producer's index");
    std::memcpy(&h, data_ + off, record::header_size);
    if (h.kind != record::kind_data) return bad("record changed while it was read");
    if (h.reserved != 0) return bad("record with reserved bits set");
    if ((h.flags & ~record::known_flags) != 0) return bad("record with unknown flag bits");
    if (h.length > max_payload_) return bad("record length exceeds the largest record of this ring");
    const std::uint64_t size = record::size_of(h.length);
    if (off + size > capacity_) return bad("record runs past the end of the data area");
    if (size > avail) return bad("record runs past the producer's index");
    if (h.message_length > max_message_size) return bad("message length over max_message_size");
    if (h.length > h.message_length) return bad("record longer than its message");

    const bool first = (h.flags & record::flag_first_fragment) != 0;
    const bool last = (h.flags & record::flag_last_fragment) != 0;
    if ((h.flags & record::flag_resync) != 0) {
      if (!first) return bad("resync flag on a record that does not start a message");
      if (synced_ && h.sequence - expected_ > (std::uint64_t{1} << 63)) return bad("sequence moved backwards at a resync");
      if (partial_) drop_partial();
      synced_ = true;
      expected_ = h.sequence;
    }
    if (!synced_) {
      if (!first) {  // the rest of a message whose start an earlier consumer took: never delivered
        if (!skipping_ || skip_seq_ != h.sequence) ++dropped_;
        skipping_ = !last;
        skip_seq_ = h.sequence;
        tail_ += size;
        return step::more;
      }
      synced_ = true;
      expected_ = h.sequence;
    }
    const std::byte* payload = data_ + off + record::header_size;
    if (first) {
      if (partial_) return bad("a message starts inside a fragmented message");
      if (h.sequence != expected_) return bad("sequence number is not the next one (a gap or a repeat)");
      meta_ = record_meta{h.sequence, h.timestamp_ns, h.type, static_cast<std::uint8_t>(h.flags & record::user_flags),
                          h.message_length};
      if (last) {
        if (h.length != h.message_length) return bad("whole-message record whose length is not the message length");
        payload_ = payload;
        record_size_ = size;
        in_place_ = true;
        ready_ = true;
        expected_ = h.sequence + 1;
        return step::ready;
      }
      if (h.length == 0 || h.length >= h.message_length) return bad("first fragment that is empty or not a fragment");
      // Copy first, then change state: if the allocation throws, the next poll() reads this record again.
      buf_.clear();
      buf_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(h.message_length, 4 * capacity_)));
      buf_.insert(buf_.end(), payload, payload + h.length);
      partial_ = true;
      expected_ = h.sequence + 1;
      tail_ += size;
      return step::more;
    }
    if (!partial_) return bad("fragment without the start of its message");
    if (h.sequence != meta_.sequence || h.type != meta_.type || h.message_length != meta_.length ||
        h.timestamp_ns != meta_.timestamp_ns || (h.flags & record::user_flags) != meta_.flags)
      return bad("fragment that does not belong to the message being reassembled");
    if (h.length == 0) return bad("empty continuation fragment");
    const std::uint64_t have = buf_.size() + std::uint64_t{h.length};
    if (have > meta_.length) return bad("fragments longer than their message");
    if (last != (have == meta_.length)) return bad("last-fragment flag does not match the message length");
    buf_.insert(buf_.end(), payload, payload + h.length);
    tail_ += size;
    if (!last) return step::more;
    partial_ = false;
    payload_ = buf_.data();
    in_place_ = false;
    ready_ = true;
    return step::ready;
  }

  void drop_partial() noexcept {
    partial_ = false;
    buf_.clear();
    ++dropped_;
  }

  void publish_tail() noexcept {
    published_tail_ = tail_;
    // SYNC POINT WRITE: space reuse. Pairs with the acquire load of tail in record_writer::refresh_tail(). Without
    // release the producer could overwrite a record while our reads of it are still in flight.
    tail_idx_->store(tail_, std::memory_order_release);
  }

  SHMRING_NOINLINE bool refresh_head() noexcept {
    if (corrupted_) return false;
    // SYNC POINT READ: record contents. Pairs with the release store of head in record_writer::publish().
    const std::uint64_t h = head_idx_->load(std::memory_order_acquire);
    if (SHMRING_UNLIKELY(h - tail_ > capacity_)) {  // behind our tail, or more than capacity ahead of it
      fail("the producer's index is out of range");
      return false;
    }
    if (SHMRING_UNLIKELY(h - tail_ < cached_head_ - tail_)) {
      fail("the producer's index moved backwards");
      return false;
    }
    if (SHMRING_UNLIKELY(h % 8 != 0)) {
      fail("the producer's index is not a multiple of 8");
      return false;
    }
    cached_head_ = h;
    return true;
  }

  // Read-only after construction.
  std::atomic<std::uint64_t>* head_idx_;
  std::atomic<std::uint64_t>* tail_idx_;
  const std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t max_payload_;

  // Consumer-private.
  std::uint64_t tail_ = 0;
  std::uint64_t published_tail_ = 0;
  std::uint64_t cached_head_ = 0;
  std::uint64_t expected_ = 0;
  std::uint64_t skip_seq_ = 0;
  std::uint64_t record_size_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t paddings_ = 0;
  std::uint64_t where_ = 0;
  const char* why_ = nullptr;
  const std::byte* payload_ = nullptr;
  record_meta meta_{};
  std::vector<std::byte> buf_;
  bool synced_ = false;
  bool skipping_ = false;
  bool partial_ = false;
  bool ready_ = false;
  bool in_place_ = false;
  bool corrupted_ = false;
};

/// A message ring with its memory on the heap: the indices on lines of their own and the data area.
/// For one process (two threads), for tests and for the fuzzer; across processes use message_producer/consumer.
class heap_byte_ring {
 public:
  /// capacity must satisfy record::valid_capacity (anything else is rounded up to one that does); first_index
  /// is rounded down to a multiple of 8.
  explicit heap_byte_ring(std::uint64_t capacity, std::uint64_t first_index = 0)
      : idx_(std::make_unique<indices>()),
        capacity_(std::bit_ceil(std::max(capacity, min_message_capacity))),
        data_(static_cast<std::byte*>(::operator new(static_cast<std::size_t>(capacity_), std::align_val_t{cache_line}))),
        first_(first_index & ~std::uint64_t{7}) {
    std::memset(data_.get(), 0, static_cast<std::size_t>(capacity_));
    idx_->head.store(first_, std::memory_order_relaxed);
    idx_->tail.store(first_, std::memory_order_relaxed);
  }

  /// The memory, for a record_writer and a record_reader.
  [[nodiscard]] byte_ring_memory memory() const noexcept { return {&idx_->head, &idx_->tail, data_.get(), capacity_}; }
  [[nodiscard]] std::uint64_t first_index() const noexcept { return first_; }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  /// Tests only: the raw data area and indices, to write corruption into.
  [[nodiscard]] std::byte* data() const noexcept { return data_.get(); }
  [[nodiscard]] std::atomic<std::uint64_t>& head() const noexcept { return idx_->head; }
  [[nodiscard]] std::atomic<std::uint64_t>& tail() const noexcept { return idx_->tail; }

 private:
  struct indices {
    alignas(cache_line) std::atomic<std::uint64_t> head{0};
    alignas(cache_line) std::atomic<std::uint64_t> tail{0};
  };
  struct aligned_delete {
    void operator()(std::byte* p) const noexcept { ::operator delete(static_cast<void*>(p), std::align_val_t{cache_line}); }
  };

  std::unique_ptr<indices> idx_;
  std::uint64_t capacity_;
  std::unique_ptr<std::byte, aligned_delete> data_;
  std::uint64_t first_;
};

}  // namespace shmring
