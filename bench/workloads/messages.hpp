// Workloads: the messages of the message runs and the buffers they live in. A message is filled with a pattern
// once and carries its sequence number in its first and its last 8 bytes; every message buffer is page-aligned.
// May touch: the heap buffers it allocates (and frees). No queue, no process.
#pragma once

#include "harness/fail.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace shmring_bench {

/// size bytes at a page boundary. Every message buffer of the suite is one, so no entry depends on where malloc put
/// its buffer: on AMD Zen 3 with glibc 2.36, a memcpy of 4 KiB or more (rep movsb) whose destination lies 8 to 24
/// bytes past its source modulo 4096 runs about 12 times slower (measured on the reference machine).
class page_buffer {
 public:
  explicit page_buffer(std::size_t size)
      : p_(static_cast<std::byte*>(std::aligned_alloc(4096, (size + 4095) / 4096 * 4096))) {
    if (p_ == nullptr) die("aligned_alloc failed");
    std::memset(p_, 0, (size + 4095) / 4096 * 4096);
  }
  ~page_buffer() { std::free(p_); }
  page_buffer(const page_buffer&) = delete;
  page_buffer& operator=(const page_buffer&) = delete;
  [[nodiscard]] std::byte* data() const noexcept { return p_; }

 private:
  std::byte* p_;
};

/// A message of size bytes (a multiple of 8, at least 16): filled with a pattern once; every message carries its
/// sequence number in its first and its last 8 bytes, so a consumer checks both ends of every message.
class message_source {
 public:
  explicit message_source(std::size_t size) : size_(size), buf_(size) {
    for (std::size_t i = 0; i + 8 <= size; i += 8) {
      const std::uint64_t w = 0x9e3779b97f4a7c15ull * (i + 1);
      std::memcpy(buf_.data() + i, &w, 8);
    }
  }
  /// Stamps seq at both ends and returns the bytes.
  const std::byte* stamp(std::uint64_t seq) noexcept {
    std::memcpy(buf_.data(), &seq, 8);
    std::memcpy(buf_.data() + size_ - 8, &seq, 8);
    return buf_.data();
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  page_buffer buf_;
};

/// The sequence numbers at both ends of a received message: {first, last}.
inline std::pair<std::uint64_t, std::uint64_t> ends_of(const std::byte* p, std::size_t size) noexcept {
  std::pair<std::uint64_t, std::uint64_t> r;
  std::memcpy(&r.first, p, 8);
  std::memcpy(&r.second, p + size - 8, 8);
  return r;
}

}  // namespace shmring_bench
