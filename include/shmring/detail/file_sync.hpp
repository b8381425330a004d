// shmring: forcing a file-backed ring's written pages to storage: msync(MS_SYNC) of the data pages a producer
// wrote, then of the header page (docs/durability.md).
// May touch: the mapping it is given (msync only; it reads and writes no byte). It knows of rings only that the
// data area is `capacity` units of `unit` bytes at `data_offset`, addressed by indices modulo capacity.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <sys/mman.h>
#include <unistd.h>

namespace shmring::detail {

/// Test-only: called after every successful msync with the byte range of the file it covered (page aligned).
/// The durability tests record these to build the file as storage would hold it after a power cut. Unset, one
/// load of a null pointer per msync.
inline void (*sync_hook)(std::uint64_t offset, std::uint64_t length) noexcept = nullptr;

class file_sync {
 public:
  file_sync() = default;
  /// base: the mapping of the whole file (size bytes); the data area is capacity * unit bytes at data_offset.
  file_sync(std::byte* base, std::uint64_t size, std::uint64_t data_offset, std::uint64_t capacity,
            std::uint64_t unit) noexcept
      : base_(base), size_(size), data_offset_(data_offset), capacity_(capacity), unit_(unit) {
    const long p = ::sysconf(_SC_PAGESIZE);
    page_ = p > 0 ? static_cast<std::uint64_t>(p) : 4096;
  }

  [[nodiscard]] bool active() const noexcept { return base_ != nullptr; }

  /// Syncs the data units of indices [from, to) (all of them when to - from >= capacity). 0 or an errno.
  [[nodiscard]] int data(std::uint64_t from, std::uint64_t to) const noexcept {
    if (!active() || to == from) return 0;
    if (to - from >= capacity_) return bytes(data_offset_, capacity_ * unit_);
    const std::uint64_t a = from & (capacity_ - 1);
    const std::uint64_t b = to & (capacity_ - 1);
    if (a < b) return bytes(data_offset_ + a * unit_, (b - a) * unit_);
    // Wrapped: the end of the area, then its start.
    if (const int e = bytes(data_offset_ + a * unit_, (capacity_ - a) * unit_); e != 0) return e;
    return b == 0 ? 0 : bytes(data_offset_, b * unit_);
  }

  /// Syncs the header (the page(s) holding the indices, counters and attach slots). 0 or an errno.
  [[nodiscard]] int header(std::uint64_t header_size) const noexcept { return active() ? bytes(0, header_size) : 0; }

 private:
  int bytes(std::uint64_t off, std::uint64_t n) const noexcept {
    const std::uint64_t start = off / page_ * page_;
    const std::uint64_t end = std::min(size_, (off + n + page_ - 1) / page_ * page_);
    if (end <= start) return 0;
    if (::msync(base_ + start, static_cast<std::size_t>(end - start), MS_SYNC) != 0) return errno;
    if (sync_hook != nullptr) sync_hook(start, end - start);
    return 0;
  }

  std::byte* base_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t data_offset_ = 0;
  std::uint64_t capacity_ = 1;
  std::uint64_t unit_ = 1;
  std::uint64_t page_ = 4096;
};

}  // namespace shmring::detail
