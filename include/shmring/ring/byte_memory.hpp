// shmring: where a message ring lives (its two shared byte indices and data area), and that memory on the heap.
// May touch: the heap memory it owns. No system call, no clock.
#pragma once

#include <shmring/config.hpp>
#include <shmring/layout/record.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

namespace shmring {

/// Where a message ring lives: the two shared byte indices and the data area, in memory the caller owns.
struct byte_ring_memory {
  std::atomic<std::uint64_t>* head;  ///< next byte the producer writes; stored by the producer only
  std::atomic<std::uint64_t>* tail;  ///< next byte the consumer reads; stored by the consumer only
  std::byte* data;                   ///< capacity bytes, 8-byte aligned
  std::uint64_t capacity;            ///< a power of two >= min_message_capacity
  std::uint32_t trailer = 0;         ///< layout 4: record::trailer_size when records are checksummed, else 0
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
