// shmring: the recovery step of a file-backed ring at attach: after a crash (a process killed, or a power cut that
// kept only some of the pages written), head is cut back to the end of the last whole, valid message (message
// rings) or the last element whose turn word says it was written (typed rings of turn slots), so that no reader
// ever delivers a torn, unsynced or stale record (docs/durability.md, "Recovery").
// May touch: the header's head index and the producer's next-sequence word (stats line +40), and it reads the data
// area and the consumer's delivered word. Called by the attachment under the admin lock, only while no live
// producer is attached (so nobody else writes head meanwhile). No system call.
#pragma once

#include <shmring/layout/header.hpp>
#include <shmring/layout/record.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/ring/record_check.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmring::detail {

/// What recovery found: the head before and after; head_before - head_after bytes were discarded.
struct recovery_result {
  std::uint64_t head_before = 0;
  std::uint64_t head_after = 0;
  const char* why = nullptr;  ///< what ended the valid records (nullptr: nothing was discarded)
  std::uint64_t unit = 1;     ///< bytes per index: 1 in message rings, the element's size in typed rings
  /// Bytes discarded: of records (message rings) or of elements (typed rings).
  [[nodiscard]] std::uint64_t discarded() const noexcept { return (head_before - head_after) * unit; }
};

/// Walks the records of [tail, head) of a ring of checksummed records (record::check with the trailer: structure,
/// CRC-32C) and the sequence rules a reader applies: the first message start carries at least the sequence the
/// consumer was to deliver next (its delivered word), each later one the next sequence (or, with flag_resync, a
/// later one), fragments the sequence of the message they continue. Head becomes the end of the last message
/// whose every record passed (a message cut by the first invalid record is discarded whole, unless the consumer
/// has released part of it already: head never goes below tail). When every record passes nothing changes. The producer's next-sequence word is raised
/// past every sequence found, so a producer never reuses one. Precondition: 0 <= head - tail <= capacity.
inline recovery_result recover_message_ring(layout::header& h, const layout::header_snapshot& snap, std::byte* data) {
  const std::uint64_t cap = snap.capacity;
  const record::area a{data, cap, record::max_payload(cap, record::trailer_size), record::trailer_size};
  // SYNC POINT READ: adoption, as in record_reader. acquire pairs with the release stores of head and tail by the
  // sides that ran before (a consumer may still be running: its tail only grows, and we never go below this one).
  const std::uint64_t tail = h.tail.value.load(std::memory_order_acquire);
  const std::uint64_t head = h.head.value.load(std::memory_order_acquire);
  // Relaxed: written by sides that released their attach locks (and so these words) before we took ours, or left
  // in the file by a reboot.
  auto& delivered_word = h.consumer_stats.reserved[layout::stats_word::delivered];
  auto& next_seq_word = h.producer_stats.reserved[layout::stats_word::next_sequence];
  const std::uint64_t delivered = delivered_word.load(std::memory_order_relaxed);
  const bool resume_known = tail != snap.initial_index;
  recovery_result r{head, tail, nullptr};
  std::uint64_t pos = tail;
  std::uint64_t good = tail;  // the end of the last whole message (or of skipped remains), never right after padding
  bool started = false, partial = false;
  std::uint64_t current = 0, expected = 0, highest = 0;
  while (pos != head) {
    const record::checked c = record::check(a, pos & (cap - 1), head - pos);
    if (!c.ok()) {
      r.why = c.why;
      break;
    }
    if (c.kind == record::checked::kind_t::data) {
      const record::header& rh = c.h;
      const bool first = (rh.flags & record::flag_first_fragment) != 0;
      const bool last = (rh.flags & record::flag_last_fragment) != 0;
      const bool resync = (rh.flags & record::flag_resync) != 0;
      if (first) {
        if (partial) {
          r.why = "a message starts inside a fragmented message";
          break;
        }
        const bool ok = started ? (rh.sequence == expected || (resync && rh.sequence - expected < (std::uint64_t{1} << 63)))
                                : (!resume_known || rh.sequence - delivered < (std::uint64_t{1} << 63));
        if (!ok) {
          r.why = "a message start with a sequence that is not the next one (a record of an older lap)";
          break;
        }
        started = true;
        current = rh.sequence;
        expected = current + 1;
        partial = !last;
      } else if (started) {
        if (!partial || rh.sequence != current) {
          r.why = "a fragment that does not continue the message before it";
          break;
        }
        partial = !last;
      }
      // (a fragment before any start: the rest of a message whose start an earlier consumer released)
      if (rh.sequence + 1 > highest) highest = rh.sequence + 1;
    }
    pos += c.size;
    // Only after a data record: a padding record must be followed by a published record (a reader refuses one
    // that ends the published bytes), so head never stops right after one.
    if (!partial && c.kind == record::checked::kind_t::data) good = pos;
  }
  // Every record valid: nothing is cut, not even a fragmented message whose producer died before its last record
  // (the next producer's first message carries flag_resync, and the reader drops the partial one, as in a
  // /dev/shm ring; a live consumer may hold it and must never see head move back under it).
  if (pos == head) good = head;
  r.head_after = good;
  if (good != head) {
    // release: pairs with the acquire load of head by the next reader (record_reader's adoption, status()).
    h.head.value.store(good, std::memory_order_release);
  }
  if (next_seq_word.load(std::memory_order_relaxed) < highest) next_seq_word.store(highest, std::memory_order_relaxed);
  return r;
}

/// The typed counterpart for rings of turn slots (layout::slot_format::turn): walks [tail, head) and cuts head back
/// to the first index whose slot's turn word is not the one the producer stores after that element's bytes
/// (index - initial_index + 1, docs/layout.md "Typed ring data area"). A turn word shares its slot, and so its
/// cache line and its 512-byte sector, with the element: storage that lost the element's bytes or kept an older
/// lap's lost the turn too (an older lap's turn, zero in a fresh file, or the new turn with its differing bytes
/// zeroed: never the new value, whose highest differing bit is set). An element whose push did not return (a
/// producer killed between its head and turn stores) is cut as well: only returned pushes are promised. Packed
/// slots (elements too big for a turn word, rings created with slots::packed) carry nothing to check: nothing
/// changes. Precondition as above.
inline recovery_result recover_typed_ring(layout::header& h, const layout::header_snapshot& snap, std::byte* data) {
  recovery_result r{};
  r.unit = snap.element_size;
  // SYNC POINT READ: adoption, as in recover_message_ring (acquire pairs with the sides' release stores).
  const std::uint64_t tail = h.tail.value.load(std::memory_order_acquire);
  const std::uint64_t head = h.head.value.load(std::memory_order_acquire);
  r.head_before = r.head_after = head;
  if (snap.slot_format != static_cast<std::uint32_t>(layout::slot_format::turn)) return r;
  const std::uint64_t mask = snap.capacity - 1;
  std::uint64_t i = tail;
  for (; i != head; ++i) {
    // Relaxed: the producer that stored it released its attach lock (and so its stores) before we took ours, or
    // the file was reopened after a reboot. The slot is inside the data area: capacity * stride bytes, validated.
    const auto* turn = std::launder(reinterpret_cast<const std::atomic<std::uint64_t>*>(
        data + static_cast<std::size_t>(i & mask) * snap.slot_stride));
    if (turn->load(std::memory_order_relaxed) != i - snap.initial_index + 1) break;
  }
  if (i != head) {
    r.head_after = i;
    r.why = "an element whose turn word was not written (torn, unsynced, or its push did not return)";
    // release: pairs with the acquire load of head by the next reader (the ring's adoption, status()).
    h.head.value.store(i, std::memory_order_release);
  }
  return r;
}

}  // namespace shmring::detail
