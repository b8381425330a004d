// shmring: the consuming side of a message ring (framed records, layout/record.hpp) over memory it is given.
// May touch: the two shared byte indices (loads head, stores tail) and the data area it is handed; nothing else.
// It makes no system call and reads no clock, so it is unit-tested, fuzzed and run under ThreadSanitizer on heap
// memory exactly as in shared memory.
// Nothing read from the data area or the producer's index is trusted: each record is checked by record::check
// (record_check.hpp) on a private copy of its header before use, and on any violation the reader marks itself
// corrupted and never reads the ring again. Every call consumes at least 8 bytes per step and re-reads the
// producer's index at most once, so no call can loop without end.
#pragma once

#include <shmring/config.hpp>
#include <shmring/layout/record.hpp>
#include <shmring/ring/byte_memory.hpp>
#include <shmring/ring/record_check.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace shmring {

/// What a reader knows of a message: the fields every record of it carries.
struct record_meta {
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint32_t type = 0;
  std::uint8_t flags = 0;   ///< user flags only (urgent, compressed, encrypted)
  std::uint32_t length = 0; ///< payload bytes of the whole message
  std::uint16_t type_tag = 0;  ///< record::tag_of the payload type's declared name, 0 when none
};

/// One data record seen by record_reader::peek(): its checked header (a private copy), its payload in the ring,
/// and the byte indices it covers: from the end of the previous record peeked (padding before it included) to its
/// own end. Valid until the record is released.
struct record_view {
  record::header header{};
  const std::byte* payload = nullptr;  ///< header.length bytes in the ring
  std::uint64_t from = 0;              ///< byte index where this record's span begins (padding included)
  std::uint64_t to = 0;                ///< byte index after it: release_to(to) frees it
};

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
  /// delivered_word, if given, receives the sequence after each message released (before the tail that frees it
  /// is stored), and tells a reader that takes over from another where that one stopped: a message start with a
  /// higher sequence and no resync flag means messages the predecessor took from the ring and never released;
  /// they are counted in dropped().
  record_reader(byte_ring_memory m, std::uint64_t initial_index,
                std::atomic<std::uint64_t>* delivered_word = nullptr) noexcept
      : head_idx_(m.head),
        tail_idx_(m.tail),
        data_(m.data),
        capacity_(m.capacity),
        mask_(m.capacity - 1),
        trailer_(m.trailer == record::trailer_size ? record::trailer_size : 0),
        max_payload_(record::valid_capacity(m.capacity) ? record::max_payload(m.capacity, trailer_) : 0),
        delivered_word_(delivered_word) {
    // SYNC POINT READ: adoption. Pairs with the release stores of the sides that ran before us.
    tail_ = tail_idx_->load(std::memory_order_acquire);
    published_tail_ = tail_;
    ahead_ = tail_;
    cached_head_ = head_idx_->load(std::memory_order_acquire);
    synced_ = tail_ == initial_index;
    // Relaxed: written by the predecessor, which released its attach lock (and so everything it wrote) before we
    // took ours.
    if (!synced_ && delivered_word_ != nullptr) {
      resume_from_ = delivered_word_->load(std::memory_order_relaxed);
      resume_known_ = true;
    }
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
    // A held fragmented message whose next record the producer cannot place (a writer that does not follow the
    // fragmentation rule): let go of the hold rather than let both sides wait for each other for ever.
    if (SHMRING_UNLIKELY(holding_ && partial_ && result == status::empty && !producer_can_continue())) holding_ = false;
    if (publishable() != published_tail_ && !corrupted_) publish_tail();
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
    // Relaxed, and before the tail store: a successor that finds the message still in the ring delivers it again
    // (at-least-once for the one held message), never counts it lost.
    if (delivered_word_ != nullptr) delivered_word_->store(meta_.sequence + 1, std::memory_order_relaxed);
    if (!in_place_) {
      buf_.clear();
      if (!holding_) return false;  // its records were freed while it was reassembled
      holding_ = false;
      publish_tail();  // frees every record of the held fragmented message at once
      return true;
    }
    tail_ += record_size_;
    publish_tail();
    return true;
  }

  // ---- record-level read-ahead (a relay such as shmring-bridge forwards records, not messages) ----------------
  // peek() walks the records after the tail without freeing any; release_to() frees them up to a record end.
  // Each record is checked as poll() checks it (record::check); sequence and fragment order are the relay's to
  // judge. Not to be mixed with poll(): a reader uses one way or the other.

  /// Consumer side only. The next data record after those peeked (padding skipped): ready (out filled), empty,
  /// or corrupted. Re-reads the producer's index at most once per call.
  [[nodiscard]] status peek(record_view& out) noexcept {
    if (SHMRING_UNLIKELY(corrupted_)) return status::corrupted;
    const std::uint64_t from = ahead_;
    bool refreshed = false;
    for (;;) {
      std::uint64_t avail = cached_head_ - ahead_;
      if (avail == 0) {
        if (refreshed) return status::empty;
        refreshed = true;
        if (!refresh_head()) return status::corrupted;
        avail = cached_head_ - ahead_;
        if (avail == 0) return status::empty;
      }
      const std::uint64_t off = ahead_ & mask_;
      const record::checked c = record::check(record::area{data_, capacity_, max_payload_, trailer_}, off, avail);
      if (!c.ok()) {
        fail(c.why);
        where_ = ahead_;
        return status::corrupted;
      }
      ahead_ += c.size;
      if (c.kind == record::checked::kind_t::padding) {
        ++paddings_;
        continue;
      }
      out = record_view{c.h, data_ + off + record::header_size, from, ahead_};
      return status::ready;
    }
  }

  /// Consumer side only. Frees every record peeked up to byte index to (a record_view::to), and stores
  /// delivered_next (the sequence after the last whole message among them) into the delivered word first, unless
  /// it is 0. False, freeing nothing, if to is not between the tail and the records peeked.
  bool release_to(std::uint64_t to, std::uint64_t delivered_next = 0) noexcept {
    if (corrupted_ || to - tail_ > ahead_ - tail_ || to % record::alignment != 0) return false;
    if (to == tail_) return true;
    // Relaxed, before the tail store, as in release().
    if (delivered_next != 0 && delivered_word_ != nullptr) delivered_word_->store(delivered_next, std::memory_order_relaxed);
    tail_ = to;
    publish_tail();
    return true;
  }

  /// Consumer side only. The next peek() starts again at the oldest record not released (a relay resends).
  void rewind() noexcept { ahead_ = tail_; }
  /// Consumer side only. The byte index the next peek() reads at.
  [[nodiscard]] std::uint64_t ahead_index() const noexcept { return ahead_; }
  /// Consumer side only. Re-reads the producer's index (acquire); true when a record waits to be peeked.
  [[nodiscard]] bool poll_ahead() noexcept {
    if (corrupted_) return false;
    if (cached_head_ != ahead_) return true;
    return refresh_head() && cached_head_ != ahead_;
  }

  /// Consumer side only. Re-reads the producer's index (acquire); true when unread bytes wait. For waiting calls.
  [[nodiscard]] bool poll_data() noexcept {
    if (corrupted_) return false;
    if (ready_ || cached_head_ != tail_) return true;
    return refresh_head() && cached_head_ != tail_;
  }

  /// Consumer side only. Makes the reader unusable, as if corrupted (a fork child's copy: detail/attachment.hpp).
  /// Publishes nothing.
  void poison() noexcept {
    if (!corrupted_) fail("inherited through fork(): the parent keeps the attachment");
    ready_ = false;
  }

  /// Consumer side only. True once anything read from the ring was impossible; the ring is then never read again.
  [[nodiscard]] bool corrupted() const noexcept { return corrupted_; }
  /// Consumer side only. What was impossible (a static string), or nullptr.
  [[nodiscard]] const char* corruption() const noexcept { return why_; }
  /// Consumer side only. The byte index of the record found impossible.
  [[nodiscard]] std::uint64_t corruption_index() const noexcept { return where_; }
  /// Consumer side only. The tail last given back to the producer (behind tail_index() while a fragmented
  /// message is held).
  [[nodiscard]] std::uint64_t published_tail_index() const noexcept { return published_tail_; }
  /// Consumer side only. True while a fragmented message that fits the ring is held whole (see poll()).
  [[nodiscard]] bool holding() const noexcept { return holding_; }
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

  /// Reads the record at tail_ (avail > 0 bytes published from there), checks it (record::check) and acts on it.
  step parse(std::uint64_t avail) {
    const std::uint64_t off = tail_ & mask_;
    const record::checked c = record::check(record::area{data_, capacity_, max_payload_, trailer_}, off, avail);
    if (!c.ok()) return bad(c.why);
    if (c.kind == record::checked::kind_t::padding) {
      tail_ += c.size;
      ++paddings_;
      return step::more;
    }
    return on_data(c.h, c.size, data_ + off + record::header_size);
  }

  /// The state machine over checked data records: sync (skip what an earlier consumer began), resync (a new
  /// producer session), sequence order, and reassembly of fragments.
  step on_data(const record::header& h, std::uint64_t size, const std::byte* payload) {
    const bool first = (h.flags & record::flag_first_fragment) != 0;
    const bool last = (h.flags & record::flag_last_fragment) != 0;
    if ((h.flags & record::flag_resync) != 0) {
      if (synced_ && h.sequence - expected_ > (std::uint64_t{1} << 63)) return bad("sequence moved backwards at a resync");
      if (partial_) drop_partial();
      synced_ = true;
      expected_ = h.sequence;
    }
    if (!synced_) {
      if (!first) {  // the rest of a message whose start an earlier consumer took: never delivered
        if (!skipping_ || skip_seq_ != h.sequence) ++dropped_;
        if (resume_known_ && h.sequence >= resume_from_) resume_from_ = h.sequence + 1;  // counted here, not as a gap
        skipping_ = !last;
        skip_seq_ = h.sequence;
        tail_ += size;
        return step::more;
      }
      synced_ = true;
      expected_ = h.sequence;
      // Messages between the predecessor's last release and this start were taken and never released.
      if (resume_known_ && h.sequence > resume_from_) dropped_ += h.sequence - resume_from_;
    }
    resume_known_ = false;
    if (first) {
      if (partial_) return bad("a message starts inside a fragmented message");
      if (h.sequence != expected_) return bad("sequence number is not the next one (a gap or a repeat)");
      meta_ = record_meta{h.sequence, h.timestamp_ns, h.type, static_cast<std::uint8_t>(h.flags & record::user_flags),
                          h.message_length, h.type_tag};
      if (last) {
        payload_ = payload;
        record_size_ = size;
        in_place_ = true;
        ready_ = true;
        expected_ = h.sequence + 1;
        return step::ready;
      }
      // Copy first, then change state: if the allocation throws, the next poll() reads this record again.
      // A message that fits the ring whole is held: the tail stays at its first record until release(), so a
      // consumer that dies while reassembling or holding it leaves it to the next one. A larger one cannot be
      // held (the producer needs its room back): its records are freed as they are read.
      const bool hold = record::span_of(tail_, h.message_length, capacity_, max_payload_, trailer_) <= capacity_;
      buf_.clear();
      buf_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(h.message_length, 4 * capacity_)));
      buf_.insert(buf_.end(), payload, payload + h.length);
      partial_ = true;
      if (hold) {
        holding_ = true;
        held_tail_ = tail_;
      }
      expected_ = h.sequence + 1;
      tail_ += size;
      return step::more;
    }
    if (!partial_) return bad("fragment without the start of its message");
    if (h.sequence != meta_.sequence || h.type != meta_.type || h.message_length != meta_.length ||
        h.type_tag != meta_.type_tag ||
        h.timestamp_ns != meta_.timestamp_ns || (h.flags & record::user_flags) != meta_.flags)
      return bad("fragment that does not belong to the message being reassembled");
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
    holding_ = false;
    buf_.clear();
    ++dropped_;
  }

  /// The tail the producer may have: ours, or the first record of a held fragmented message.
  std::uint64_t publishable() const noexcept { return holding_ ? held_tail_ : tail_; }

  /// While holding: whether a producer that follows the fragmentation rule can write the message's next record
  /// into the room the hold leaves it.
  bool producer_can_continue() const noexcept {
    const std::uint64_t left = meta_.length - buf_.size();
    const std::uint64_t size =
        record::size_of(record::fragment_length(cached_head_, meta_.length, left, capacity_, max_payload_, trailer_), trailer_);
    const std::uint64_t off = cached_head_ & mask_;
    const std::uint64_t need = off + size <= capacity_ ? size : (capacity_ - off) + size;
    return capacity_ - (cached_head_ - held_tail_) >= need;
  }

  void publish_tail() noexcept {
    published_tail_ = publishable();
    // SYNC POINT WRITE: space reuse. Pairs with the acquire load of tail in record_writer::refresh_tail(). Without
    // release the producer could overwrite a record while our reads of it are still in flight.
    tail_idx_->store(published_tail_, std::memory_order_release);
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
  std::uint32_t trailer_;  // 0, or record::trailer_size in a ring of checksummed records (layout 4)
  std::uint64_t max_payload_;
  std::atomic<std::uint64_t>* delivered_word_;

  // Consumer-private.
  std::uint64_t held_tail_ = 0;     // while holding_: the first record of the fragmented message
  std::uint64_t resume_from_ = 0;   // resume_known_: the sequence the predecessor was to deliver next
  bool holding_ = false;
  bool resume_known_ = false;
  std::uint64_t tail_ = 0;
  std::uint64_t ahead_ = 0;         // peek(): the next record to read ahead (tail_ <= ahead_ <= cached_head_)
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


}  // namespace shmring
