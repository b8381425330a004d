// libFuzzer target: arbitrary bytes as a whole message segment (header + data area) fed to the consumer's read
// path exactly as message_consumer::open and receive use it: layout::read_snapshot and layout::validate on the
// header, then a record_reader over the data area, polled and released until it has nothing more. Before that, the
// pure record check (record::check) is called directly at every 8-byte boundary of the data area, with every
// amount of published bytes the area allows there, and its inline fast path compared with the full check
// (record::check_full): both must give the same verdict, size and header copy. Bytes past the segment the header
// declares are read as later values of the producer's index (8 bytes each), as a live producer would store them.
// It must never read out of bounds (the segment is a heap block of exactly its declared size), never hit UB,
// never loop without end (more whole messages than the bytes can hold traps), never throw.
//
// Build and run: bash tests/fuzz/run.sh [seconds]. tests/fuzz/fuzz_replay_test.cpp runs the committed corpus
// (tests/fuzz/corpus, made by tests/fuzz/make_corpus.cpp) through the same function in every ordinary build.
#include <shmring/ring/byte_ring.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/snapshot.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

namespace shmring_fuzz {

/// What one input did.
struct outcome {
  bool rejected = false;       ///< the header was refused (as open() would refuse it)
  bool corrupted = false;      ///< the reader found the ring corrupted
  std::uint64_t delivered = 0; ///< whole messages read and released
  std::uint64_t dropped = 0;
  std::uint32_t checksum = 0;  ///< folds every delivered byte, so each one is really read
};

inline void drain(shmring::record_reader& r, std::uint64_t capacity, outcome& out) {
  for (std::uint64_t polls = 0;; ++polls) {
    // Every ready message consumed at least 32 bytes of what was published: more than that is an endless loop.
    if (polls > capacity / 32 + 2) __builtin_trap();
    if (r.poll() != shmring::record_reader::status::ready) return;
    for (const std::byte b : r.payload()) out.checksum = out.checksum * 31u + static_cast<std::uint8_t>(b);
    out.checksum ^= static_cast<std::uint32_t>(r.meta().sequence) ^ r.meta().type;
    ++out.delivered;
    r.release();
  }
}

inline outcome run(const std::uint8_t* bytes, std::size_t size) {
  using namespace shmring;
  outcome out;
  if (size < sizeof(layout::header)) {
    out.rejected = true;
    return out;
  }
  // Read the header's declared size from the input first, to give the segment exactly that many bytes.
  layout::control_line control;
  std::memcpy(static_cast<void*>(&control), bytes, sizeof control);
  const std::uint64_t declared = control.segment_size;
  if (declared < sizeof(layout::header) || declared > size) {
    out.rejected = true;
    return out;
  }
  struct aligned_delete {
    void operator()(std::byte* p) const noexcept { ::operator delete(static_cast<void*>(p), std::align_val_t{cache_line}); }
  };
  std::unique_ptr<std::byte, aligned_delete> mem(
      static_cast<std::byte*>(::operator new(static_cast<std::size_t>(declared), std::align_val_t{cache_line})));
  std::memcpy(mem.get(), bytes, static_cast<std::size_t>(declared));
  auto* h = std::launder(reinterpret_cast<layout::header*>(mem.get()));
  const layout::header_snapshot snap = layout::read_snapshot(*h);
  try {
    layout::validate(snap, declared, {segment_kind::message, 1, record::alignment, 0}, "fuzz");
  } catch (const error&) {
    out.rejected = true;
    return out;
  }
  const std::uint64_t cap = snap.capacity;
  if (!record::valid_capacity(cap) || snap.initial_index % record::alignment != 0) {
    out.rejected = true;  // message_consumer::open refuses these (check_message_ring)
    return out;
  }
  std::byte* data = mem.get() + snap.data_offset;
  // Layout 4: a file-backed ring's header says its records carry checksums (trailers): read them as its consumer would.
  const std::uint32_t trailer = (snap.flags & flag_record_checksums) != 0 ? record::trailer_size : 0u;
  const record::area area{data, cap, record::max_payload(cap, trailer), trailer};
  for (std::uint64_t off = 0; off < cap; off += record::alignment) {
    // avail: a few lengths around the record sizes that matter, always within what the area holds from off.
    for (const std::uint64_t avail : {std::uint64_t{8}, std::uint64_t{32}, std::uint64_t{40}, cap - off, cap}) {
      const record::checked c = record::check(area, off, avail);
      if (c.ok() && (c.size == 0 || c.size > avail || off + c.size > cap)) __builtin_trap();
      if (c.ok()) out.checksum ^= static_cast<std::uint32_t>(c.size);
      // check() decides the common case inline and must agree with the full check on every input.
      const record::checked f = record::check_full(area, off, avail);
      if (f.kind != c.kind || f.size != c.size) __builtin_trap();
      if (c.ok() && std::memcmp(&f.h, &c.h, record::header_size) != 0) __builtin_trap();
    }
  }
  record_reader r({&h->head.value, &h->tail.value, data, cap, trailer}, snap.initial_index);
  drain(r, cap, out);
  for (std::size_t off = static_cast<std::size_t>(declared); off + 8 <= size; off += 8) {
    std::uint64_t head;
    std::memcpy(&head, bytes + off, 8);
    h->head.value.store(head, std::memory_order_release);
    drain(r, cap, out);
  }
  out.corrupted = r.corrupted();
  out.dropped = r.dropped();
  return out;
}

}  // namespace shmring_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)shmring_fuzz::run(data, size);
  return 0;
}
