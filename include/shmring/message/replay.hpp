// shmring: message_replay, a read-only reader of a message ring for audit and recovery (docs/replay.md). It opens
// the ring by name through the same open function the endpoints use (segment::open), maps it PROT_READ, and reads
// forward from a byte index it is given, from the consumer's tail, or from the oldest record still intact, without
// consuming anything: it takes no attach lock, writes no byte, and neither side can tell it is there.
// May touch: the segment (open and map read-only). It reads the header's indices and the data area; nothing else.
//
// Everything it reads can change under it (the producer keeps writing over consumed records). Each record is
// copied (header by record::check, then its payload), and only then judged intact or not, seqlock-style: after the
// copy it re-reads tail and head, and a record whose bytes the producer may have been writing meanwhile is an
// overrun (status::overrun), never delivered. The rule, "intact(p)", for a record starting at byte index p:
//   - p >= tail (re-read after the copy): not consumed, so the producer may not write there (it writes only
//     below its last view of the tail + capacity); always intact;
//   - otherwise p >= head + window(head) - capacity, with head re-read after the copy and window(head) the most
//     bytes a producer writes past its published head before its next index store; by default one largest
//     record, and the padding before it when it would not fit before the end of the data area
//     (replay_options::write_window to set another: a ring carrying messages larger than one record, which a
//     producer writes with one store, or written by a relay that defers publication, needs capacity, which
//     restricts replay to what is not consumed).
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/segment.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/record.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/message/types.hpp>
#include <shmring/ring/record_check.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shmring {

/// One message read by message_replay::next(): reassembled when it was fragmented, copied out of the ring.
struct replay_message {
  message_info info;               ///< type, flags (urgent, compressed, encrypted), sequence, timestamp, length
  std::uint64_t index = 0;         ///< byte index of its first record
  std::uint64_t next = 0;          ///< byte index after its last record (a later seek() may start there)
  std::uint32_t records = 0;       ///< records it came in (1 unless fragmented)
  bool resync = false;             ///< its first record carries the resync flag (a new producer session)
  std::vector<std::byte> payload;  ///< info.length bytes

  /// The payload as characters.
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

/// What message_replay::open() may be told.
struct replay_options {
  /// The most bytes a producer of this ring writes past its published head before it publishes them (see the
  /// file comment). 0: one largest record and the padding before it, right for rings whose messages fit one
  /// record (record::max_payload) and whose producer is a message_producer. capacity or more: only records the
  /// consumer has not consumed are ever judged intact.
  std::uint64_t write_window = 0;
};

namespace detail {

/// The sequence and fragment rules of a record chain (those of record_reader, for a reader that may start
/// anywhere): a chain may begin with the remains of a message whose start lies before it (skipped), then every
/// message start carries the next sequence unless it has the resync flag (then it may move forward, never back),
/// and fragments belong to the message they continue.
struct replay_chain {
  enum class verdict : std::uint8_t { start, more, whole, skip, bad };
  bool started = false;   // a message start was seen
  bool in_msg = false;    // between a first fragment and its last
  std::uint64_t seq = 0;  // in_msg: the message's sequence; otherwise (started) the next one expected
  std::uint64_t got = 0;  // in_msg: payload bytes so far
  record::header first{}; // in_msg: the first record's header
  const char* why = nullptr;
  bool dropped_partial = false;  // the last verdict dropped a partial message (a resync inside it)

  verdict bad(const char* w) noexcept {
    why = w;
    return verdict::bad;
  }

  verdict accept(const record::header& h) noexcept {
    dropped_partial = false;
    const bool is_first = (h.flags & record::flag_first_fragment) != 0;
    const bool is_last = (h.flags & record::flag_last_fragment) != 0;
    if (!started && !is_first) return verdict::skip;  // the rest of a message begun before the chain
    if (is_first) {
      const bool resync = (h.flags & record::flag_resync) != 0;
      if (started && resync && h.sequence - seq > (std::uint64_t{1} << 63) && !in_msg)
        return bad("sequence moved backwards at a resync");
      if (in_msg && !resync) return bad("a message starts inside a fragmented message");
      if (in_msg) dropped_partial = true;
      if (started && !resync && h.sequence != seq) return bad("sequence number is not the next one (a gap or a repeat)");
      started = true;
      if (is_last) {
        in_msg = false;
        seq = h.sequence + 1;
        return verdict::whole;
      }
      in_msg = true;
      seq = h.sequence;
      got = h.length;
      first = h;
      return verdict::start;
    }
    if (!in_msg) return bad("fragment without the start of its message");
    if (h.sequence != first.sequence || h.type != first.type || h.message_length != first.message_length ||
        h.type_tag != first.type_tag || h.timestamp_ns != first.timestamp_ns ||
        (h.flags & record::user_flags) != (first.flags & record::user_flags))
      return bad("fragment that does not belong to the message being reassembled");
    got += h.length;
    if (got > first.message_length) return bad("fragments longer than their message");
    if (is_last != (got == first.message_length)) return bad("last-fragment flag does not match the message length");
    if (!is_last) return verdict::more;
    in_msg = false;
    seq = h.sequence + 1;
    return verdict::whole;
  }
};

/// a >= b for indices that are never more than 2^63 apart (they may wrap past 2^64).
constexpr bool index_at_least(std::uint64_t a, std::uint64_t b) noexcept { return a - b < (std::uint64_t{1} << 63); }

}  // namespace detail

/// A read-only reader of a message ring. One thread uses it. It never changes the ring (see the file comment).
///
/// next() delivers the next whole message after the position (ready), or says that none is complete up to the
/// head it read at the start of the call (end; call again later: a message whose fragments are partly published
/// is kept and continued), that the producer overwrote what it was reading (overrun; the position is lost until
/// the next seek), or that the ring holds an impossible record (corrupted; why() says what). A message larger
/// than the ring can be replayed only while it is written (its first records are gone once its last is).
class message_replay {
 public:
  enum class status : std::uint8_t { ready, end, overrun, corrupted };

  /// Opens the message ring `name` read-only (any process that may read it; no attach lock is taken) and
  /// positions the reader at the consumer's tail. Throws shmring::error as status(name) does, and kind_mismatch
  /// for a typed ring.
  static message_replay open(std::string_view name, const replay_options& o = {}) {
    segment seg = segment::open(name, segment::access::read_only);
    const std::uint64_t real = seg.real_size();
    if (real < sizeof(layout::header))
      throw error(errc::not_ready, name, "the segment is " + std::to_string(real) + " bytes, smaller than a header");
    seg.map(sizeof(layout::header));
    const auto* h = std::launder(reinterpret_cast<const layout::header*>(seg.data()));
    // SYNC POINT READ: header. Pairs with the creator's release store of ready in endpoint::create().
    if (h->control.ready.load(std::memory_order_acquire) != ready_value)
      throw error(errc::not_ready, name, "the header is not marked ready: its creator has not finished (or died)");
    const layout::header_snapshot snap = layout::read_snapshot(*h);  // the fixed fields, read once
    layout::validate(snap, real, layout::expectation{segment_kind::message, 1, record::alignment, 0}, name);
    if (!record::valid_capacity(snap.capacity) || snap.initial_index % record::alignment != 0)
      throw error(errc::corrupted, name, "message ring with an impossible capacity or an unaligned initial index");
    seg.map(snap.segment_size);  // every size below comes from the validated snapshot
    return message_replay(std::move(seg), snap, o);
  }

  message_replay(message_replay&&) noexcept = default;
  message_replay(const message_replay&) = delete;
  message_replay& operator=(const message_replay&) = delete;

  // ---- positioning ------------------------------------------------------------------------------------------

  /// Reads from the consumer's tail as it is now (what a consumer attaching now would receive first).
  void seek_tail() { reset(load_tail()); }

  /// Reads from the oldest record still intact: the smallest 8-aligned byte index p with intact(p) (at least the
  /// ring's initial index) from which the record chain leads exactly to the tail, every record passing
  /// record::check and the chain rules (consecutive sequences, fragments in order). Candidates are tried in
  /// order; each costs one record check when it is no boundary, the chain's length when it is: about
  /// capacity/8 checks plus the records between it and the tail. A budget of 16 checks per 8 bytes of capacity
  /// bounds hostile bytes; when it runs out, or the tail moves during the scan, the reader starts at the tail.
  /// Returns the index chosen. A consumed record that only looks like a boundary (payload bytes that form valid
  /// headers with consecutive sequences all the way to the tail) would be taken for one: replay what is audited,
  /// not what an adversary wrote.
  std::uint64_t seek_oldest() {
    const std::uint64_t t = load_tail();
    const std::uint64_t h = load_head();
    if (!range_ok(t, h)) return fail_seek(t, "the indices are out of range");
    std::uint64_t c = oldest_safe(t, h);
    std::uint64_t budget = 16 * (capacity_ / record::alignment) + 1024;
    for (; c != t; c += record::alignment) {
      if (chain_reaches(c, t, h, budget)) break;
      if (budget == 0) {
        c = t;
        break;
      }
    }
    if (load_tail() != t) c = t;  // the consumer moved: what we judged may be gone
    reset(c);
    return c;
  }

  /// Reads from byte index `index`. Throws errc::invalid_argument when it is not a multiple of 8, ahead of the
  /// producer's head, older than the oldest byte still intact (the message names it), or not a record boundary
  /// (the records between it and the tail do not chain exactly from one to the other).
  void seek(std::uint64_t index) {
    const std::uint64_t t = load_tail();
    const std::uint64_t h = load_head();
    if (!range_ok(t, h)) throw error(errc::corrupted, name(), "the ring's indices are out of range");
    auto refuse = [&](const std::string& why) {
      throw error(errc::invalid_argument, name(), "byte index " + std::to_string(index) + " " + why);
    };
    if (index % record::alignment != 0) refuse("is not a multiple of 8, so no record boundary");
    if (!detail::index_at_least(h, index)) refuse("is ahead of the producer's head " + std::to_string(h));
    const std::uint64_t floor = oldest_safe(t, h);
    if (!detail::index_at_least(index, floor))
      refuse("is older than what the ring still holds intact (from " + std::to_string(floor) + ", tail " +
             std::to_string(t) + ")");
    std::uint64_t budget = ~std::uint64_t{0};
    if (detail::index_at_least(index, t)) {
      if (!chain_reaches(t, index, h, budget))
        refuse("is not a record boundary (the records from the tail " + std::to_string(t) + " do not stop there)");
    } else if (!chain_reaches(index, t, h, budget)) {
      refuse("is not a record boundary (the records from there do not lead to the tail " + std::to_string(t) + ")");
    }
    reset(index);
  }

  // ---- reading ----------------------------------------------------------------------------------------------

  /// The next whole message after the position, copied into out (see the class comment). Reads at most up to the
  /// head as it is at the start of the call. May allocate (out.payload). Throws errc::truncated if the segment
  /// was truncated under the mapping.
  [[nodiscard]] status next(replay_message& out) {
    if (lost_) return status::overrun;
    if (why_ != nullptr) return status::corrupted;
    const std::uint64_t h = load_head();
    if (!detail::index_at_least(h, pos_)) return corrupt("the producer's index moved behind the replay position");
    if (h - pos_ > capacity_) return overrun();  // lapped: the producer wrote a whole ring past us
    while (pos_ != h) {
      const std::uint64_t off = pos_ & (capacity_ - 1);
      const record::checked c = record::check(record::area{data_, capacity_, max_payload_, trailer_}, off, h - pos_);
      const std::size_t before = buf_.size();
      if (c.kind == record::checked::kind_t::data)
        buf_.insert(buf_.end(), data_ + off + record::header_size, data_ + off + record::header_size + c.h.length);
      if (!intact(pos_)) return overrun();  // what we copied may be torn: judged only now, after the copy
      if (SHMRING_UNLIKELY(seg_.truncated()))
        throw error(errc::truncated, name(), "the segment was truncated while it was replayed");
      if (!c.ok()) return corrupt(c.why);
      const std::uint64_t at = pos_;
      pos_ += c.size;
      if (c.kind == record::checked::kind_t::padding) continue;
      switch (chain_.accept(c.h)) {
        case detail::replay_chain::verdict::bad:
          pos_ = at;
          return corrupt(chain_.why);
        case detail::replay_chain::verdict::skip:
          buf_.resize(before);
          ++skipped_;
          continue;
        case detail::replay_chain::verdict::start:
          if (before != 0 || chain_.dropped_partial) {  // a resync dropped the message being reassembled
            buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(before));
            ++skipped_;
          }
          msg_index_ = at;
          msg_records_ = 1;
          continue;
        case detail::replay_chain::verdict::more:
          ++msg_records_;
          continue;
        case detail::replay_chain::verdict::whole: {
          const bool whole_record = (c.h.flags & record::flag_first_fragment) != 0;
          if (whole_record) {
            if (before != 0 || chain_.dropped_partial) {
              buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(before));
              ++skipped_;
            }
            msg_index_ = at;
            msg_records_ = 1;
            first_flags_ = c.h.flags;
          } else {
            ++msg_records_;
            first_flags_ = chain_.first.flags;
          }
          out.info = message_info{static_cast<message_type>(c.h.type),
                                  static_cast<message_flags>(c.h.flags & record::user_flags), c.h.sequence,
                                  c.h.timestamp_ns, c.h.message_length, c.h.type_tag};
          out.index = msg_index_;
          out.next = pos_;
          out.records = msg_records_;
          out.resync = (first_flags_ & record::flag_resync) != 0;
          out.payload.swap(buf_);
          buf_.clear();
          return status::ready;
        }
      }
    }
    return status::end;
  }

  // ---- observers --------------------------------------------------------------------------------------------

  /// The byte index the next record will be read at.
  [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }
  /// The consumer's tail now (acquire).
  [[nodiscard]] std::uint64_t tail() const noexcept { return load_tail(); }
  /// The producer's head now (acquire).
  [[nodiscard]] std::uint64_t head() const noexcept { return load_head(); }
  /// Bytes of the data area.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  /// The index the ring started at.
  [[nodiscard]] std::uint64_t initial_index() const noexcept { return initial_; }
  /// Records (or partial messages) skipped since the last seek: the rest of a message that began before the
  /// position, or a partial message a resync ended.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }
  /// After status::overrun: the byte index of the record that may have been overwritten.
  [[nodiscard]] std::uint64_t overrun_index() const noexcept { return overrun_at_; }
  /// After status::corrupted: what was impossible (a static string), else nullptr.
  [[nodiscard]] const char* why() const noexcept { return why_; }
  /// The ring's user name.
  [[nodiscard]] const std::string& name() const noexcept { return seg_.name(); }

 private:
  message_replay(segment seg, const layout::header_snapshot& snap, const replay_options& o)
      : seg_(std::move(seg)),
        header_(std::launder(reinterpret_cast<const layout::header*>(seg_.data()))),
        data_(seg_.data() + snap.data_offset),
        capacity_(snap.capacity),
        // Layout 4: a ring whose header says record_checksums (a file-backed ring) has a trailer on every data
        // record; record::check then verifies each record's CRC-32C, so a torn record is never delivered.
        trailer_((snap.flags & flag_record_checksums) != 0 ? record::trailer_size : 0),
        max_payload_(record::max_payload(snap.capacity, trailer_)),
        initial_(snap.initial_index),
        window_(o.write_window) {
    reset(load_tail());
  }

  std::uint64_t load_tail() const noexcept {
    // SYNC POINT READ: consumption. Pairs with the consumer's release store of tail (record_reader::publish_tail):
    // everything below it was consumed before; the producer writes only below its own view of it.
    return header_->tail.value.load(std::memory_order_acquire);
  }
  std::uint64_t load_head() const noexcept {
    // SYNC POINT READ: record contents. Pairs with the release store of head in record_writer::publish(): the
    // records below it are written.
    return header_->head.value.load(std::memory_order_acquire);
  }

  bool range_ok(std::uint64_t t, std::uint64_t h) const noexcept {
    return h - t <= capacity_ && t % record::alignment == 0 && h % record::alignment == 0 &&
           detail::index_at_least(t, initial_);
  }

  /// The most bytes past head the producer may be writing before its next index store (the file comment).
  std::uint64_t window_at(std::uint64_t h) const noexcept {
    if (window_ != 0) return window_ > capacity_ ? capacity_ : window_;
    const std::uint64_t largest = record::size_of(max_payload_, trailer_);
    const std::uint64_t to_end = capacity_ - (h & (capacity_ - 1));
    return largest <= to_end ? largest : to_end + largest;
  }

  /// The oldest byte index a consumed record may start at and still be intact, given tail t and head h; never
  /// after t, never before the ring's initial index.
  std::uint64_t oldest_safe(std::uint64_t t, std::uint64_t h) const noexcept {
    const std::uint64_t w = window_at(h);
    if (w >= capacity_) return t;
    std::uint64_t f = h - (capacity_ - w);  // h + w - capacity
    if (!detail::index_at_least(f, initial_)) f = initial_;
    if (detail::index_at_least(f, t)) f = t;
    return (f + record::alignment - 1) & ~std::uint64_t{record::alignment - 1};
  }

  /// intact(p) of the file comment, with tail and head read after the copy. The fence orders our plain reads
  /// of the record before the index loads: a byte we copied that the producer had already overwritten means it
  /// had seen a tail above it (its acquire load of tail precedes its stores), so the tail we read now is above
  /// too and the record is judged overwritten.
  bool intact(std::uint64_t p) const noexcept {
    recheck_fence();
    const std::uint64_t t = load_tail();
    if (detail::index_at_least(p, t)) return true;
    const std::uint64_t h = load_head();
    const std::uint64_t w = window_at(h);
    if (w >= capacity_) return false;
    return detail::index_at_least(p, h - (capacity_ - w)) && detail::index_at_least(p, initial_);
  }

  /// SYNC POINT READ: seqlock re-check. Orders the plain reads of a record before the index loads that judge it
  /// (pairs with the producer's acquire load of tail, which precedes its stores into consumed records).
  /// ThreadSanitizer does not model fences (gcc refuses them under -Werror=tsan); there, where the races it could
  /// see are only between processes anyway, a compiler barrier stands in: x86 does not reorder loads with older
  /// loads, so on x86 the acquire fence is no instruction either.
  static void recheck_fence() noexcept {
#if defined(__SANITIZE_THREAD__)
    std::atomic_signal_fence(std::memory_order_acquire);
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    std::atomic_signal_fence(std::memory_order_acquire);
#else
    std::atomic_thread_fence(std::memory_order_acquire);
#endif
#else
    std::atomic_thread_fence(std::memory_order_acquire);
#endif
  }

  /// Whether the records from `from` chain exactly to `to` (from <= to <= h), each checked; for seeking.
  /// Consumes budget (one per record).
  bool chain_reaches(std::uint64_t from, std::uint64_t to, std::uint64_t h, std::uint64_t& budget) const noexcept {
    detail::replay_chain ch;
    std::uint64_t p = from;
    while (p != to) {
      if (budget == 0 || !detail::index_at_least(to, p)) return false;
      --budget;
      const record::checked c = record::check(record::area{data_, capacity_, max_payload_, trailer_}, p & (capacity_ - 1), h - p);
      if (!c.ok()) return false;
      if (c.kind == record::checked::kind_t::data && ch.accept(c.h) == detail::replay_chain::verdict::bad) return false;
      p += c.size;
    }
    if (to != h) {  // the record at `to` must continue the chain too
      const record::checked c = record::check(record::area{data_, capacity_, max_payload_, trailer_}, p & (capacity_ - 1), h - p);
      if (!c.ok()) return false;
      if (c.kind == record::checked::kind_t::data && ch.accept(c.h) == detail::replay_chain::verdict::bad) return false;
    }
    return true;
  }

  void reset(std::uint64_t at) noexcept {
    pos_ = at;
    chain_ = detail::replay_chain{};
    buf_.clear();
    lost_ = false;
    why_ = nullptr;
    skipped_ = 0;
  }

  std::uint64_t fail_seek(std::uint64_t t, const char* why) noexcept {
    reset(t);
    why_ = why;
    return t;
  }

  status overrun() noexcept {
    lost_ = true;
    overrun_at_ = pos_;
    buf_.clear();
    return status::overrun;
  }

  status corrupt(const char* why) noexcept {
    why_ = why;
    buf_.clear();
    return status::corrupted;
  }

  segment seg_;
  const layout::header* header_;
  const std::byte* data_;
  std::uint64_t capacity_;
  std::uint32_t trailer_;  // 0, or record::trailer_size in a ring of checksummed records (layout 4)
  std::uint64_t max_payload_;
  std::uint64_t initial_;
  std::uint64_t window_;

  std::uint64_t pos_ = 0;
  std::uint64_t msg_index_ = 0;
  std::uint32_t msg_records_ = 0;
  std::uint8_t first_flags_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t overrun_at_ = 0;
  bool lost_ = false;
  const char* why_ = nullptr;
  detail::replay_chain chain_;
  std::vector<std::byte> buf_;  // the message being reassembled
};

/// "ready", "end", "overrun" or "corrupted".
constexpr std::string_view to_string(message_replay::status s) noexcept {
  switch (s) {
    case message_replay::status::ready: return "ready";
    case message_replay::status::end: return "end";
    case message_replay::status::overrun: return "overrun";
    case message_replay::status::corrupted: return "corrupted";
  }
  return "unknown";
}

}  // namespace shmring
