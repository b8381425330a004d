// libFuzzer target: the typed consumer (slot_ring, both slot formats of layout 4) against a hostile producer.
// The input chooses an element shape, a capacity and the initial index (near 2^64 as easily as near 0), then is
// read as a program: each step either writes what a producer may write (head, a slot's turn word, element bytes,
// or an honest publication of the consumer's next index) or runs a consumer operation (try_pop, front/pop_front,
// try_pop_n, consumer_poll). Checked after every step:
// - the consumer never reads or points outside the slots (a heap block of exactly capacity * stride bytes, so
//   ASan sees a byte too far) and front() points at the element of its own next index;
// - it never delivers an index twice or skips one: its index grows by exactly what it delivered;
// - once corrupted it stays corrupted and delivers nothing; an honest run (only honest steps) never corrupts it
//   and delivers exactly what was published, every element's bytes compared;
// - no step loops (each is bounded by the capacity).
//
// Build and run: bash tests/fuzz/run.sh [seconds] typed. tests/fuzz/typed_fuzz_replay_test.cpp runs the committed
// seeds (tests/fuzz/typed_corpus) and deterministic mutations of them in every ordinary build.
#include <shmring/ring/typed_ring.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace shmring_typed_fuzz {

/// What one input did.
struct outcome {
  bool corrupted = false;       ///< the consumer ended corrupted
  bool honest = true;           ///< only honest producer steps were taken
  std::uint64_t delivered = 0;  ///< elements delivered (by copy, in place or in batches)
  std::uint64_t published = 0;  ///< honest publications
};

namespace detail {
// Element shapes: size, alignment (turn: 1..56 bytes; packed: 64 and more, and every size in a ring created with
// slots::packed, which the input's first byte chooses).
constexpr std::array<std::array<std::uint32_t, 2>, 8> shapes{
    {{1, 1}, {4, 4}, {8, 8}, {24, 8}, {48, 16}, {56, 8}, {64, 8}, {72, 8}}};

struct reader {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() noexcept {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::uint64_t word() noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | byte();
    return v;
  }
};

inline void check(bool ok) noexcept {
  if (!ok) __builtin_trap();
}

// The bytes of element i of an honest producer.
inline void honest_bytes(std::uint64_t i, std::byte* out, std::size_t size) noexcept {
  for (std::size_t k = 0; k < size; ++k)
    out[k] = static_cast<std::byte>((i * 0x9e3779b97f4a7c15ull >> (k % 8 * 8)) + k);
}
}  // namespace detail

inline outcome run(const std::uint8_t* data, std::size_t size) {
  using namespace detail;
  reader in{data, size};
  const std::uint8_t pick = in.byte();
  const auto shape = shapes[pick % shapes.size()];
  const std::uint64_t capacity = std::uint64_t{1} << (pick / shapes.size() % 7);  // 1 .. 64
  const std::uint64_t init = in.word();
  const shmring::slots format = pick >= 128 ? shmring::slots::packed : shmring::slots::turn;
  const shmring::runtime_slot slot(shape[0], shape[1], format);
  const std::size_t stride = slot.stride(), esize = slot.size();
  const std::size_t bytes = static_cast<std::size_t>(capacity) * stride;

  struct alignas(64) indices {
    std::atomic<std::uint64_t> head;
    alignas(64) std::atomic<std::uint64_t> tail;
  };
  auto idx = std::make_unique<indices>();
  idx->head.store(init);
  idx->tail.store(init);
  std::vector<std::byte> slots(bytes);  // exactly the slots (16-aligned, enough for every shape here), zero
  std::byte* const lo = slots.data();
  shmring::slot_ring<shmring::runtime_slot> r(&idx->head, &idx->tail, lo, capacity, init, slot);

  outcome out;
  std::uint64_t next_publish = init;  // the honest producer's next index
  std::vector<std::byte> buf(esize * capacity), want(esize);
  auto turn_at = [&](std::uint64_t slot_index) {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(lo + static_cast<std::size_t>(slot_index) * stride);
  };
  auto delivered = [&](const std::byte* e, std::uint64_t index) {
    ++out.delivered;
    if (out.honest) {  // an honest run delivers exactly what was published
      honest_bytes(index, want.data(), esize);
      check(std::memcmp(e, want.data(), esize) == 0);
    }
  };

  for (int steps = 0; in.n != 0 && steps < 4096; ++steps) {
    const std::uint64_t before = r.consumer_index();
    const bool was_corrupted = r.consumer_corrupted();
    std::uint64_t got = 0;
    const std::uint8_t op = in.byte();
    switch (op % 9) {
      case 0:  // hostile: head := anything
        out.honest = false;
        idx->head.store(in.word(), std::memory_order_release);
        break;
      case 1: {  // hostile: a turn word := anything (only turn slots have one)
        const std::uint64_t s = in.byte() % capacity, v = in.word();
        out.honest = false;
        if (slot.has_turn()) turn_at(s)->store(v, std::memory_order_release);
        break;
      }
      case 2: {  // hostile: the turn that the consumer's index i + k expects (head untouched)
        const std::uint64_t i = r.consumer_index() + in.byte() % (capacity + 1);
        out.honest = false;
        if (slot.has_turn()) turn_at(i & (capacity - 1))->store(i - init + 1, std::memory_order_release);
        break;
      }
      case 3: {  // hostile: element bytes
        const std::size_t at = in.byte() % bytes, len = std::min<std::size_t>(in.byte() % 16 + 1, bytes - at);
        out.honest = false;
        for (std::size_t k = 0; k < len; ++k) lo[at + k] = static_cast<std::byte>(in.byte());
        break;
      }
      case 4: {  // honest: up to k elements, as the producer side would (bytes, head, turns); only where there is room
        const std::uint64_t k = in.byte() % 4 + 1;
        for (std::uint64_t j = 0; j < k && next_publish - idx->tail.load(std::memory_order_acquire) < capacity; ++j) {
          if (!out.honest) break;  // after a hostile step the honest producer's view is meaningless
          const std::uint64_t i = next_publish++;
          honest_bytes(i, lo + static_cast<std::size_t>(i & (capacity - 1)) * stride + slot.offset(), esize);
          idx->head.store(i + 1, std::memory_order_release);
          if (slot.has_turn()) turn_at(i & (capacity - 1))->store(i - init + 1, std::memory_order_release);
          ++out.published;
        }
        break;
      }
      case 5:  // try_pop
        if (r.try_pop_bytes(buf.data())) {
          delivered(buf.data(), before);
          got = 1;
        }
        break;
      case 6:  // front / pop_front
        if (const auto* f = static_cast<const std::byte*>(r.front_bytes())) {
          check(f == lo + static_cast<std::size_t>(before & (capacity - 1)) * stride + slot.offset());
          check(f >= lo && f + esize <= lo + bytes);
          delivered(f, before);
          check(r.pop_front());
          got = 1;
        }
        break;
      case 7: {  // try_pop_n
        const std::size_t max = in.byte() % (capacity + 1);
        got = r.try_pop_n_bytes(buf.data(), max);
        check(got <= max);
        for (std::uint64_t k = 0; k < got; ++k) delivered(buf.data() + k * esize, before + k);
        break;
      }
      default:  // consumer_poll: says ready only if the next pop delivers
        (void)r.consumer_poll();
        break;
    }
    check(r.consumer_index() == before + got);    // no index delivered twice, none skipped
    check(!was_corrupted || (got == 0 && r.consumer_corrupted()));  // corrupted is final
    check(!out.honest || !r.consumer_corrupted());  // an honest producer never corrupts its consumer
  }
  out.corrupted = r.consumer_corrupted();
  if (out.honest) {  // everything published and not yet read is still there, in order
    std::uint64_t i = r.consumer_index();
    while (r.try_pop_bytes(buf.data())) delivered(buf.data(), i++);
    check(i == next_publish);
  }
  return out;
}

}  // namespace shmring_typed_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)shmring_typed_fuzz::run(data, size);
  return 0;
}
