// shmring: the lock-free single-producer/single-consumer ring algorithm over memory it is given.
// May touch: the two shared indices and the slots it is handed, nothing else. It makes no system call, so it
// is unit-tested and run under ThreadSanitizer on heap memory (heap_ring below) exactly as in shared memory.
// slot_ring<Slot> is the algorithm over slots of Slot::size() bytes; ring<T> is it with sizeof(T) slots and T in
// its calls, and dynamic.hpp's endpoints use it with a slot width given at run time: one implementation for both.
//
// Design (rigtorp's SPSCQueue, hardened for a peer that is another process):
// - head and tail are 64-bit, monotonically increasing and never wrapped; slot = index & (capacity - 1).
//   At 10^10 operations a second they last 58 years; the arithmetic below is also correct across 2^64.
// - each side keeps a private copy of its own index and a cached copy of the other side's index, on a cache
//   line of its own, so a push or pop reads the other side's line only when the cache says full or empty.
// - every value read from the other side's index is validated: 0 <= head - tail <= capacity in unsigned
//   arithmetic. A violation (index moved backwards, jumped past the capacity) marks the side corrupted: the
//   try_* calls then return false/0 forever and never touch a slot outside [0, capacity).
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/copy.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace shmring {

/// Where a ring lives: the two shared indices and the slots, in memory the caller owns.
template <element T>
struct ring_memory {
  std::atomic<std::uint64_t>* head;  ///< next index to write; stored by the producer only
  std::atomic<std::uint64_t>* tail;  ///< next index to read; stored by the consumer only
  T* slots;                          ///< capacity elements
  std::uint64_t capacity;            ///< a power of two
};

/// The width of a slot known at compile time (ring<T>: sizeof(T)), so the copies below are fixed-size memcpys.
template <std::size_t N>
struct fixed_slot {
  [[nodiscard]] static constexpr std::size_t size() noexcept { return N; }
};

/// The width of a slot known only at run time (dynamic_producer / dynamic_consumer: an element described by the
/// program, for the language bindings).
struct runtime_slot {
  std::size_t bytes;
  [[nodiscard]] constexpr std::size_t size() const noexcept { return bytes; }
};

/// The lock-free SPSC ring algorithm over slots of Slot::size() bytes: the one implementation behind ring<T>
/// (fixed_slot) and the run-time described elements of dynamic.hpp (runtime_slot). One thread (or process) may
/// call the producer members, one the consumer members; observers may be called by anyone.
template <class Slot>
class slot_ring {
 public:
  /// Adopts the indices as they are. Precondition: 0 <= head - tail <= capacity (see is_consistent).
  slot_ring(std::atomic<std::uint64_t>* head, std::atomic<std::uint64_t>* tail, std::byte* slots,
            std::uint64_t capacity, Slot slot) noexcept
      : head_idx_(head), tail_idx_(tail), slots_(slots), mask_(capacity - 1), capacity_(capacity), slot_(slot) {
    // SYNC POINT READ: adoption. Pairs with the release stores of the side(s) that ran before us (or the
    // creator's initialisation published by its release store of the segment's ready word).
    const std::uint64_t h = head_idx_->load(std::memory_order_acquire);
    const std::uint64_t t = tail_idx_->load(std::memory_order_acquire);
    prod_.head = h;
    prod_.cached_tail = t;
    cons_.tail = t;
    cons_.cached_head = h;
    if (h - t > capacity_) {
      mark_producer_corrupted();
      mark_consumer_corrupted();
    }
  }

  slot_ring(const slot_ring&) = delete;  // two copies would each believe they own the private indices
  slot_ring& operator=(const slot_ring&) = delete;
  /// Moves the view and its private indices; the moved-from ring must not be used.
  slot_ring(slot_ring&&) noexcept = default;

  /// Anyone. The bytes of one slot (one element).
  [[nodiscard]] constexpr std::size_t slot_size() const noexcept { return slot_.size(); }

  // ---------------------------------------------------------------------------------------------- producer

  /// Producer side only. Wait-free. Copies one element's bytes from v into the ring; false when full or corrupted.
  [[nodiscard]] bool try_push_bytes(const void* v) noexcept {
    void* slot = claim_one();
    if (SHMRING_UNLIKELY(slot == nullptr)) return false;
    std::memcpy(slot, v, slot_.size());
    publish(1);
    return true;
  }

  /// Producer side only. Wait-free. Copies as many of the n leading elements at in as fit and publishes them
  /// with one index store. Returns how many were pushed (0 when full or corrupted).
  [[nodiscard]] std::size_t try_push_n_bytes(const void* in, std::size_t n_in) noexcept {
    if (n_in == 0 || prod_.corrupted) return 0;
    const std::uint64_t h = prod_.head;
    std::uint64_t free = capacity_ - (h - prod_.cached_tail);
    if (free < n_in && !refresh_tail(h, free)) return 0;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(free, n_in));
    if (n == 0) return 0;
    const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(n, capacity_ - (h & mask_)));
    const auto* src = static_cast<const std::byte*>(in);
    std::memcpy(slot_at(h), src, first * slot_.size());
    if (n != first) std::memcpy(slots_, src + first * slot_.size(), (n - first) * slot_.size());
    publish(n);
    return n;
  }

  /// Producer side only. How many elements the producer could push right now without looking at the
  /// consumer's index again (a lower bound of the free space).
  [[nodiscard]] std::uint64_t producer_free_cached() const noexcept { return capacity_ - (prod_.head - prod_.cached_tail); }

  /// Producer side only. True once the consumer's index was seen out of range; the ring is then unusable.
  [[nodiscard]] bool producer_corrupted() const noexcept { return prod_.corrupted; }

  /// Producer side only. The index the next push will write.
  [[nodiscard]] std::uint64_t producer_index() const noexcept { return prod_.head; }

  // ---------------------------------------------------------------------------------------------- consumer

  /// Consumer side only. Wait-free. Copies the oldest element's bytes into out and frees its slot; false when
  /// empty or corrupted.
  [[nodiscard]] bool try_pop_bytes(void* out) noexcept {
    const void* p = front_bytes();
    if (SHMRING_UNLIKELY(p == nullptr)) return false;
    std::memcpy(out, p, slot_.size());
    release(1);
    return true;
  }

  /// Consumer side only. Wait-free. The oldest element's slot in place (no copy), or nullptr when empty or
  /// corrupted. The pointer stays valid until pop_front(). Across processes the bytes are the producer's.
  [[nodiscard]] const void* front_bytes() noexcept {
    const std::uint64_t t = cons_.tail;
    if (cons_.cached_head == t) {
      std::uint64_t avail = 0;
      if (!refresh_head(t, avail) || avail == 0) return nullptr;
    }
    return slot_at(t);
  }

  /// Consumer side only. Wait-free. Frees the slot front_bytes() returned and returns true; returns false and
  /// frees nothing when the ring is empty as far as this side knows (front_bytes() would have returned nullptr).
  bool pop_front() noexcept {
    if (SHMRING_UNLIKELY(cons_.cached_head == cons_.tail)) return false;
    release(1);
    return true;
  }

  /// Consumer side only. Wait-free. Copies up to max of the oldest elements to out and frees their slots with
  /// one index store. Returns how many were popped (0 when empty or corrupted).
  [[nodiscard]] std::size_t try_pop_n_bytes(void* out, std::size_t max) noexcept {
    if (max == 0 || cons_.corrupted) return 0;
    const std::uint64_t t = cons_.tail;
    std::uint64_t avail = cons_.cached_head - t;
    if (avail < max && !refresh_head(t, avail)) return 0;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(avail, max));
    if (n == 0) return 0;
    const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(n, capacity_ - (t & mask_)));
    auto* dst = static_cast<std::byte*>(out);
    detail::copy_from_peer(dst, slot_at(t), first * slot_.size());
    if (n != first) detail::copy_from_peer(dst + first * slot_.size(), slots_, (n - first) * slot_.size());
    release(n);
    return n;
  }

  /// Consumer side only. True once the producer's index was seen out of range; the ring is then unusable.
  [[nodiscard]] bool consumer_corrupted() const noexcept { return cons_.corrupted; }

  /// Consumer side only. The index the next pop will read.
  [[nodiscard]] std::uint64_t consumer_index() const noexcept { return cons_.tail; }

  /// Consumer side only. Re-reads the producer's index (acquire) and says whether an element is waiting.
  /// Used by waiting calls between attempts; false also when corrupted.
  [[nodiscard]] bool consumer_poll() noexcept {
    std::uint64_t avail = 0;
    return !cons_.corrupted && (cons_.cached_head != cons_.tail || (refresh_head(cons_.tail, avail) && avail != 0));
  }

  /// Producer side only. Re-reads the consumer's index (acquire) and says whether a slot is free.
  [[nodiscard]] bool producer_poll(std::uint64_t want = 1) noexcept {
    std::uint64_t free = capacity_ - (prod_.head - prod_.cached_tail);
    return !prod_.corrupted && (free >= want || (refresh_tail(prod_.head, free) && free >= want));
  }

  // ---------------------------------------------------------------------------------------------- observers

  /// Anyone. The number of elements in the ring at some moment during the call (0..capacity).
  [[nodiscard]] std::uint64_t size_approx() const noexcept {
    // Both acquire: observers pair with the sides' release stores; tail first so head - tail is rarely < 0.
    const std::uint64_t t = tail_idx_->load(std::memory_order_acquire);
    const std::uint64_t h = head_idx_->load(std::memory_order_acquire);
    const std::uint64_t d = h - t;
    return d > capacity_ ? (static_cast<std::int64_t>(d) < 0 ? 0 : capacity_) : d;
  }

  /// Anyone. True when size_approx() == 0.
  [[nodiscard]] bool empty() const noexcept { return size_approx() == 0; }

  /// Anyone. The number of slots.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

  /// Either side. Makes both sides unusable, as if corrupted: every later call refuses (a fork child's copy of an
  /// attachment: detail/attachment.hpp). Touches no slot and no shared index.
  void poison() noexcept {
    mark_producer_corrupted();
    mark_consumer_corrupted();
  }

  /// Anyone. Whether the indices of m satisfy 0 <= head - tail <= capacity.
  [[nodiscard]] static bool is_consistent(std::uint64_t head, std::uint64_t tail, std::uint64_t capacity) noexcept {
    return head - tail <= capacity;
  }

 protected:
  // Producer side: the next free slot, or nullptr when full or corrupted; publish(n) makes n claimed slots visible.
  void* claim_one() noexcept {
    const std::uint64_t h = prod_.head;
    if (SHMRING_UNLIKELY(h - prod_.cached_tail == capacity_)) {
      std::uint64_t free = 0;
      if (!refresh_tail(h, free) || free == 0) return nullptr;
    }
    return slot_at(h);
  }

  void publish(std::uint64_t n) noexcept {
    prod_.head += n;
    // SYNC POINT WRITE: slot contents. Pairs with the acquire load of head in refresh_head() (consumer) and in
    // size_approx() (observers). Without release the consumer could see the new head before the element bytes.
    head_idx_->store(prod_.head, std::memory_order_release);
  }

 private:
  std::byte* slot_at(std::uint64_t index) const noexcept {
    return slots_ + static_cast<std::size_t>(index & mask_) * slot_.size();
  }

  void release(std::uint64_t n) noexcept {
    cons_.tail += n;
    // SYNC POINT WRITE: slot reuse. Pairs with the acquire load of tail in refresh_tail() (producer). Without
    // release the producer could overwrite a slot while our reads of it are still in flight.
    tail_idx_->store(cons_.tail, std::memory_order_release);
  }

  SHMRING_NOINLINE bool refresh_tail(std::uint64_t h, std::uint64_t& free) noexcept {
    if (prod_.corrupted) return false;
    // SYNC POINT READ: slot reuse. Pairs with the release store of tail in release() (consumer).
    const std::uint64_t t = tail_idx_->load(std::memory_order_acquire);
    if (SHMRING_UNLIKELY(h - t > capacity_)) {  // tail ahead of head, or more than capacity behind it
      mark_producer_corrupted();
      return false;
    }
    prod_.cached_tail = t;
    free = capacity_ - (h - t);
    return true;
  }

  SHMRING_NOINLINE bool refresh_head(std::uint64_t t, std::uint64_t& avail) noexcept {
    if (cons_.corrupted) return false;
    // SYNC POINT READ: slot contents. Pairs with the release store of head in publish() (producer).
    const std::uint64_t h = head_idx_->load(std::memory_order_acquire);
    if (SHMRING_UNLIKELY(h - t > capacity_)) {  // head behind tail, or more than capacity ahead of it
      mark_consumer_corrupted();
      return false;
    }
    cons_.cached_head = h;
    avail = h - t;
    return true;
  }

  // A corrupted side pins its cache to "full" (producer) or "empty" (consumer), so every later call takes the
  // slow path, which refuses: the fast path needs no extra check.
  void mark_producer_corrupted() noexcept {
    prod_.corrupted = true;
    prod_.cached_tail = prod_.head - capacity_;
  }
  void mark_consumer_corrupted() noexcept {
    cons_.corrupted = true;
    cons_.cached_head = cons_.tail;
  }

  // Read-only after construction; shared by both sides.
  std::atomic<std::uint64_t>* const head_idx_;
  std::atomic<std::uint64_t>* const tail_idx_;
  std::byte* const slots_;
  const std::uint64_t mask_;
  const std::uint64_t capacity_;
  [[no_unique_address]] const Slot slot_;

  // Producer-private: its own index and its cached view of the consumer's, on a line of their own.
  struct alignas(cache_line) producer_state {
    std::uint64_t head = 0;
    std::uint64_t cached_tail = 0;
    bool corrupted = false;
  } prod_;

  // Consumer-private: its own index and its cached view of the producer's, on a line of their own.
  struct alignas(cache_line) consumer_state {
    std::uint64_t tail = 0;
    std::uint64_t cached_head = 0;
    bool corrupted = false;
  } cons_;
};

/// A lock-free SPSC ring of T over given memory: slot_ring with sizeof(T) slots, and T in its calls. In one
/// process the same object may serve both sides; across processes each side constructs its own over the shared
/// memory.
template <element T>
class ring : public slot_ring<fixed_slot<sizeof(T)>> {
  using base = slot_ring<fixed_slot<sizeof(T)>>;

 public:
  using value_type = T;

  /// Adopts the indices as they are. Precondition: 0 <= head - tail <= capacity (see is_consistent).
  explicit ring(ring_memory<T> m) noexcept
      : base(m.head, m.tail, reinterpret_cast<std::byte*>(m.slots), m.capacity, fixed_slot<sizeof(T)>{}) {}

  ring(ring&&) noexcept = default;

  /// Producer side only. Wait-free. Copies v into the ring; false when full or corrupted.
  [[nodiscard]] bool try_push(const T& v) noexcept { return this->try_push_bytes(std::addressof(v)); }

  /// Producer side only. Wait-free. Constructs a T in place from args; false when full or corrupted.
  template <class... Args>
    requires std::is_nothrow_constructible_v<T, Args&&...>
  [[nodiscard]] bool try_emplace(Args&&... args) noexcept {
    void* slot = this->claim_one();
    if (SHMRING_UNLIKELY(slot == nullptr)) return false;
    ::new (slot) T(std::forward<Args>(args)...);
    this->publish(1);
    return true;
  }

  /// Producer side only. Wait-free. Copies as many leading elements of in as fit and publishes them with
  /// one index store. Returns how many were pushed (0 when full or corrupted).
  [[nodiscard]] std::size_t try_push_n(std::span<const T> in) noexcept {
    return this->try_push_n_bytes(in.data(), in.size());
  }

  /// Consumer side only. Wait-free. Copies the oldest element into out and frees its slot; false when empty
  /// or corrupted.
  [[nodiscard]] bool try_pop(T& out) noexcept { return this->try_pop_bytes(std::addressof(out)); }

  /// Consumer side only. Wait-free. The oldest element, or nothing when empty or corrupted.
  [[nodiscard]] std::optional<T> try_pop() noexcept {
    std::optional<T> out(std::in_place);
    if (SHMRING_UNLIKELY(!this->try_pop_bytes(std::addressof(*out)))) return std::nullopt;
    return out;
  }

  /// Consumer side only. Wait-free. The oldest element in place (no copy), or nullptr when empty or corrupted.
  /// The pointer stays valid until pop_front(). Across processes the bytes are the producer's: a T with invalid
  /// bit patterns (bool, enum) must be checked by the caller if the producer is not trusted.
  [[nodiscard]] const T* front() noexcept {
    const void* p = this->front_bytes();
    return p == nullptr ? nullptr : std::launder(static_cast<const T*>(p));
  }

  /// Consumer side only. Wait-free. Copies up to out.size() of the oldest elements and frees their slots with
  /// one index store. Returns how many were popped (0 when empty or corrupted).
  [[nodiscard]] std::size_t try_pop_n(std::span<T> out) noexcept { return this->try_pop_n_bytes(out.data(), out.size()); }
};

/// A ring together with its memory on the heap: the indices on lines of their own and capacity slots.
/// For one process (two threads) and for tests; across processes use shmring::producer / consumer.
template <element T>
class heap_ring : public ring<T> {
  struct storage {
    alignas(cache_line) std::atomic<std::uint64_t> head;
    alignas(cache_line) std::atomic<std::uint64_t> tail;
  };

 public:
  /// capacity must be a power of two (checked: anything else is rounded up). first_index is the index of
  /// the first element (tests start near 2^64 to prove the wrap-around).
  explicit heap_ring(std::uint64_t capacity, std::uint64_t first_index = 0)
      : heap_ring(make(capacity, first_index)) {}

 private:
  struct parts {
    std::unique_ptr<storage> idx;
    std::unique_ptr<T[], void (*)(T*)> slots;
    std::uint64_t capacity;
  };

  static parts make(std::uint64_t capacity, std::uint64_t first_index) {
    capacity = std::bit_ceil(std::max<std::uint64_t>(capacity, 1));
    auto idx = std::make_unique<storage>();
    idx->head.store(first_index, std::memory_order_relaxed);
    idx->tail.store(first_index, std::memory_order_relaxed);
    constexpr std::size_t align = alignof(T) > cache_line ? alignof(T) : cache_line;
    void* raw = ::operator new(static_cast<std::size_t>(capacity) * sizeof(T), std::align_val_t{align});
    std::unique_ptr<T[], void (*)(T*)> slots(static_cast<T*>(raw), [](T* p) {
      ::operator delete(static_cast<void*>(p), std::align_val_t{align});
    });
    return parts{std::move(idx), std::move(slots), capacity};
  }

  explicit heap_ring(parts p)
      : ring<T>(ring_memory<T>{&p.idx->head, &p.idx->tail, p.slots.get(), p.capacity}),
        idx_(std::move(p.idx)),
        slots_(std::move(p.slots)) {}

  std::unique_ptr<storage> idx_;
  std::unique_ptr<T[], void (*)(T*)> slots_;
};

}  // namespace shmring
