// shmring: the lock-free single-producer/single-consumer ring algorithm over memory it is given.
// May touch: the two shared indices and the slots it is handed, nothing else. It makes no system call, so it
// is unit-tested and run under ThreadSanitizer on heap memory (heap_ring below) exactly as in shared memory.
// slot_ring<Slot> is the algorithm over slots described by Slot (element bytes, stride, turn word or not); ring<T>
// is it with T's slot shape known at compile time and T in its calls, and dynamic.hpp's endpoints use it with a
// shape given at run time: one implementation for both.
//
// Design (rigtorp's SPSCQueue, hardened for a peer that is another process):
// - head and tail are 64-bit, monotonically increasing and never wrapped; slot = index & (capacity - 1).
//   At 10^10 operations a second they last 58 years; the arithmetic below is also correct across 2^64.
// - each side keeps a private copy of its own index and a cached copy of the other side's index, on a cache
//   line of its own, so a push or pop reads the other side's line only when the cache says full or empty.
// - every value read from the other side's index is validated: 0 <= head - tail <= capacity in unsigned
//   arithmetic. A violation (index moved backwards, jumped past the capacity) marks the side corrupted: the
//   try_* calls then return false/0 forever and never touch a slot outside [0, capacity).
// - turn slots (layout 4, layout::typed_slot_shape: every element that fits a cache line with an 8-byte word):
//   each slot starts with a turn word, release-stored by the producer after the element and after head, equal
//   to (index - initial_index) + 1 for the element it holds. A consumer whose cache says "empty" first looks at
//   the slot's own turn: when it is exactly the value its private tail expects, the slot is published and the
//   hand-off moved one cache line (the slot's) instead of two (head's, then the slot's). Otherwise it reads head
//   as before, but only after turn_only_polls empty polls in a row: a consumer spinning on an empty ring then
//   holds only the slot's line, not head's. Zero memory is an empty ring (no turn is 0 for 2^64 - 1 elements),
//   a turn from an older lap never equals the expected value, and head/tail stay exact for batches, observers,
//   the wake-up protocol and checks.
//   The consumer never writes a slot line, so slot lines only travel from producer to consumer.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/copy.hpp>
#include <shmring/layout/header.hpp>  // typed_slot_shape: the slot shape is part of the layout

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
  void* slots;                       ///< capacity * ring<T, S>::slot_stride bytes, aligned to a cache line; zero (or
                                     ///< as the ring's earlier users left it) before the first use
  std::uint64_t capacity;            ///< a power of two
  std::uint64_t initial_index;       ///< the index of the first element ever written (the turn words count from it)
};

/// A slot shape known at compile time (ring<T, S>: sizeof(T), alignof(T) and the slot format chosen), so the copies
/// below are fixed-size memcpys and the format costs no run-time branch.
template <std::size_t Size, std::size_t Align, slots S = slots::turn>
struct fixed_slot {
  static constexpr layout::slot_shape shape = layout::typed_slot_shape(Size, Align, S);
  /// The element's bytes.
  [[nodiscard]] static constexpr std::size_t size() noexcept { return Size; }
  /// Bytes from one slot to the next.
  [[nodiscard]] static constexpr std::size_t stride() noexcept { return shape.stride; }
  /// Bytes from a slot's start to its element.
  [[nodiscard]] static constexpr std::size_t offset() noexcept { return shape.element_offset; }
  /// Whether each slot starts with a turn word.
  [[nodiscard]] static constexpr bool has_turn() noexcept { return shape.format == layout::slot_format::turn; }
};

/// A slot shape known only at run time (dynamic_producer / dynamic_consumer: an element described by the
/// program, for the language bindings).
class runtime_slot {
 public:
  /// The shape of an element of size bytes and alignment align in a ring created with slot format s
  /// (layout::typed_slot_shape).
  constexpr runtime_slot(std::size_t size, std::size_t align, slots s) noexcept
      : runtime_slot(size, layout::typed_slot_shape(size, align, s)) {}
  constexpr runtime_slot(std::size_t size, layout::slot_shape shape) noexcept
      : bytes_(size), stride_(shape.stride), offset_(shape.element_offset),
        turn_(shape.format == layout::slot_format::turn) {}
  [[nodiscard]] constexpr std::size_t size() const noexcept { return bytes_; }
  [[nodiscard]] constexpr std::size_t stride() const noexcept { return stride_; }
  [[nodiscard]] constexpr std::size_t offset() const noexcept { return offset_; }
  [[nodiscard]] constexpr bool has_turn() const noexcept { return turn_; }

 private:
  std::size_t bytes_;
  std::size_t stride_;
  std::size_t offset_;
  bool turn_;
};

/// The lock-free SPSC ring algorithm over slots shaped by Slot (size(), stride(), offset(), has_turn()): the one
/// implementation behind ring<T> (fixed_slot) and the run-time described elements of dynamic.hpp (runtime_slot).
/// One thread (or process) may call the producer members, one the consumer members; observers may be called by
/// anyone.
template <class Slot>
class slot_ring {
 public:
  /// Adopts the indices as they are. slots: capacity * slot.stride() bytes, aligned to a cache line.
  /// initial_index: the index of the first element ever written (the turn words count from it).
  /// Precondition: 0 <= head - tail <= capacity (see is_consistent); otherwise both sides start corrupted.
  slot_ring(std::atomic<std::uint64_t>* head, std::atomic<std::uint64_t>* tail, std::byte* slots,
            std::uint64_t capacity, std::uint64_t initial_index, Slot slot) noexcept
      : head_idx_(head), tail_idx_(tail), slots_(slots), mask_(capacity - 1), capacity_(capacity),
        turn_base_(initial_index - 1), slot_(slot) {
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

  /// Anyone. The bytes of one element.
  [[nodiscard]] constexpr std::size_t slot_size() const noexcept { return slot_.size(); }
  /// Anyone. The bytes from one slot to the next (slot_size() for packed slots, more with a turn word).
  [[nodiscard]] constexpr std::size_t slot_stride() const noexcept { return slot_.stride(); }
  /// Anyone. Whether each slot carries a turn word (layout::slot_format::turn).
  [[nodiscard]] constexpr bool has_turn() const noexcept { return slot_.has_turn(); }

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
    const auto* src = static_cast<const std::byte*>(in);
    if (slot_.stride() == slot_.size()) {  // packed: at most two contiguous runs
      const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(n, capacity_ - (h & mask_)));
      std::memcpy(element_at(h), src, first * slot_.size());
      if (n != first) std::memcpy(element_at(h + first), src + first * slot_.size(), (n - first) * slot_.size());
    } else {  // strided: one element per slot, next to its turn word
      for (std::size_t i = 0; i < n; ++i) std::memcpy(element_at(h + i), src + i * slot_.size(), slot_.size());
    }
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
  /// Turn slots: an empty answer may come from the turn alone (turn_only_polls); every element an honest producer's
  /// push has returned for is seen by its turn.
  [[nodiscard]] const void* front_bytes() noexcept {
    const std::uint64_t t = cons_.tail;
    if (cons_.cached_head == t && !look_again(t)) return nullptr;
    return element_at(t);
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
    auto* dst = static_cast<std::byte*>(out);
    if (slot_.stride() == slot_.size()) {  // packed: at most two contiguous runs
      const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(n, capacity_ - (t & mask_)));
      detail::copy_from_peer(dst, element_at(t), first * slot_.size());
      if (n != first)
        detail::copy_from_peer(dst + first * slot_.size(), element_at(t + first), (n - first) * slot_.size());
    } else {  // strided: element by element (each at most a line, so memcpy's vector moves)
      for (std::size_t i = 0; i < n; ++i) std::memcpy(dst + i * slot_.size(), element_at(t + i), slot_.size());
    }
    release(n);
    return n;
  }

  /// Consumer side only. True once the producer's index was seen out of range; the ring is then unusable.
  [[nodiscard]] bool consumer_corrupted() const noexcept { return cons_.corrupted; }

  /// Consumer side only. The index the next pop will read.
  [[nodiscard]] std::uint64_t consumer_index() const noexcept { return cons_.tail; }

  /// Consumer side only. Looks at the next slot's turn word, then (see turn_only_polls) re-reads the producer's
  /// index (acquire), and says whether an element is waiting. Used by waiting calls between attempts and as their
  /// last check before sleeping (wait.hpp S4); false also when corrupted.
  [[nodiscard]] bool consumer_poll() noexcept {
    return !cons_.corrupted && (cons_.cached_head != cons_.tail || look_again(cons_.tail));
  }

  /// Turn slots: how many consecutive empty polls (front_bytes, try_pop_bytes, consumer_poll) look at the next
  /// slot's turn only, before every further one also reads head. Reading head while the ring is empty would share
  /// the producer's head line with this core, so its next head store would wait for that line again and (stores
  /// become visible in order) delay the turn store behind it: the second line of the hand-off. Head still has the
  /// last word: after this many polls, and at once after the ring was adopted, every empty poll reads it, so a
  /// waiting call's last check before it sleeps (wait.hpp S4, after spin_iterations = 4096 polls by default)
  /// reads head as before, an element whose producer died between its head and its turn store is delivered (the
  /// waiting calls also ask for a head read when the producer died or closed: consumer_read_head_next), and a
  /// head that is impossible is found. With fewer spins S4 may read the turn only, which is enough for the proof:
  /// an honest producer's turn store, like its head store, precedes its wake check W3.
  static constexpr std::uint32_t turn_only_polls = 1024;

  /// Consumer side only. The next empty poll reads head, whatever the turn says (for a waiting call whose producer
  /// died: an element it published by head but not by turn is then still delivered).
  void consumer_read_head_next() noexcept { cons_.turn_misses = turn_only_polls; }

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
    return element_at(h);
  }

  // Publishes the n elements written at the n indices from prod_.head: head first, then each slot's turn word.
  // Head before the turns keeps "tail <= head" for an honest producer: a consumer that accepts a slot by its turn
  // (take_turn) may set its tail past it, and head is already there. The wake check (wait.hpp W2-W3) follows in the
  // caller; its W1 is the head store here, which comes before the turn stores and so before W3.
  void publish(std::uint64_t n) noexcept {
    const std::uint64_t first = prod_.head;
    prod_.head += n;
    // SYNC POINT WRITE: slot contents. Pairs with the acquire load of head in refresh_head() (consumer) and in
    // size_approx() (observers). Without release the consumer could see the new head before the element bytes.
    head_idx_->store(prod_.head, std::memory_order_release);
    if (slot_.has_turn()) {
      for (std::uint64_t i = first; i != first + n; ++i) {
        // SYNC POINT WRITE: slot contents (one line). Pairs with the acquire load of the turn in take_turn()
        // (consumer). Without release the consumer could see the turn before the element bytes it vouches for.
        turn_at(i)->store(i - turn_base_, std::memory_order_release);
      }
    }
  }

 private:
  std::byte* slot_base(std::uint64_t index) const noexcept {
    return slots_ + static_cast<std::size_t>(index & mask_) * slot_.stride();
  }
  std::byte* element_at(std::uint64_t index) const noexcept { return slot_base(index) + slot_.offset(); }
  // The turn word at the start of a turn slot (8-aligned: the stride is a power of two of at least 16 and the
  // slots are line-aligned).
  std::atomic<std::uint64_t>* turn_at(std::uint64_t index) const noexcept {
    return std::launder(reinterpret_cast<std::atomic<std::uint64_t>*>(slot_base(index)));
  }

  // Consumer: whether slot t is published by its own turn word; if so, the cache says one more element is there.
  // The turn must equal the value computed from our private t, so a hostile producer cannot make us read outside
  // the ring (the slot index is masked), accept a slot twice (t only grows) or loop: a turn that claims a slot
  // beyond head is the producer's word against itself, delivered as bytes behind a lying head would be, and
  // refresh_head() marks us corrupted once it finds head behind our tail or our cache.
  bool take_turn(std::uint64_t t) noexcept {
    if (!slot_.has_turn() || cons_.corrupted) return false;
    // SYNC POINT READ: slot contents (one line). Pairs with the release store of the turn in publish()
    // (producer), which follows the element bytes.
    if (turn_at(t)->load(std::memory_order_acquire) != t - turn_base_) return false;
    cons_.cached_head = t + 1;  // the producer stored head (>= t + 1) before this turn
    cons_.turn_misses = 0;
    return true;
  }

  // Consumer, its cache saying empty: the turn of slot t, then (packed slots, or after turn_only_polls empty
  // polls in a row) head. True when an element is there.
  bool look_again(std::uint64_t t) noexcept {
    if (take_turn(t)) return true;
    if (slot_.has_turn() && cons_.turn_misses < turn_only_polls) {
      ++cons_.turn_misses;
      return false;
    }
    std::uint64_t avail = 0;
    if (!refresh_head(t, avail) || avail == 0) return false;
    cons_.turn_misses = 0;
    return true;
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
    // Head behind tail, more than capacity ahead of it, or behind what we already know: head only grows, and a
    // turn we accepted (take_turn) was stored after a head that covers it, so an honest head is never behind our
    // cache. (Without the last check a lying turn could make a batch pop and a poll disagree forever.)
    if (SHMRING_UNLIKELY(h - t > capacity_ || h - t < cons_.cached_head - t)) {
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
  const std::uint64_t turn_base_;  // initial_index - 1: the turn of index i is i - turn_base_
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
    std::uint32_t turn_misses = turn_only_polls;  // empty polls that looked at the turn only; adoption reads head
    bool corrupted = false;
  } cons_;
};

/// A lock-free SPSC ring of T over given memory: slot_ring with T's slots in format S (shmring::slots: turn slots
/// by default, packed for batches), and T in its calls. In one process the same object may serve both sides;
/// across processes each side constructs its own over the shared memory.
template <element T, slots S = slots::turn>
class ring : public slot_ring<fixed_slot<sizeof(T), alignof(T), S>> {
  using slot_type = fixed_slot<sizeof(T), alignof(T), S>;
  using base = slot_ring<slot_type>;

 public:
  using value_type = T;
  /// The slot format this ring was asked for (an element too big for a turn word is packed either way).
  static constexpr slots slot_layout = S;
  /// Bytes per slot: sizeof(T), or more when a turn word shares the slot (layout::typed_slot_shape).
  static constexpr std::size_t slot_stride = slot_type::stride();

  /// Adopts the indices as they are. Precondition: 0 <= head - tail <= capacity (see is_consistent).
  explicit ring(ring_memory<T> m) noexcept
      : base(m.head, m.tail, static_cast<std::byte*>(m.slots), m.capacity, m.initial_index, slot_type{}) {}

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

/// A ring together with its memory on the heap: the indices on lines of their own and capacity slots (zeroed, as
/// a new segment's are).
/// For one process (two threads) and for tests; across processes use shmring::producer / consumer.
template <element T, slots S = slots::turn>
class heap_ring : public ring<T, S> {
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
  static constexpr std::size_t align = alignof(T) > cache_line ? alignof(T) : cache_line;
  static void free_slots(std::byte* p) noexcept { ::operator delete(static_cast<void*>(p), std::align_val_t{align}); }
  using slot_memory = std::unique_ptr<std::byte, void (*)(std::byte*) noexcept>;

  struct parts {
    std::unique_ptr<storage> idx;
    slot_memory slots;
    std::uint64_t capacity;
    std::uint64_t first_index;
  };

  static parts make(std::uint64_t capacity, std::uint64_t first_index) {
    capacity = std::bit_ceil(std::max<std::uint64_t>(capacity, 1));
    auto idx = std::make_unique<storage>();
    idx->head.store(first_index, std::memory_order_relaxed);
    idx->tail.store(first_index, std::memory_order_relaxed);
    constexpr std::size_t stride = ring<T, S>::slot_stride;
    const std::size_t bytes = static_cast<std::size_t>(capacity) * stride;
    slot_memory slots(static_cast<std::byte*>(::operator new(bytes, std::align_val_t{align})), &free_slots);
    std::memset(slots.get(), 0, bytes);
    if constexpr (fixed_slot<sizeof(T), alignof(T), S>::has_turn()) {
      for (std::size_t i = 0; i < bytes; i += stride)
        ::new (static_cast<void*>(slots.get() + i)) std::atomic<std::uint64_t>(0);
    }
    return parts{std::move(idx), std::move(slots), capacity, first_index};
  }

  explicit heap_ring(parts p)
      : ring<T, S>(ring_memory<T>{&p.idx->head, &p.idx->tail, p.slots.get(), p.capacity, p.first_index}),
        idx_(std::move(p.idx)),
        slots_(std::move(p.slots)) {}

  std::unique_ptr<storage> idx_;
  slot_memory slots_;
};

}  // namespace shmring
