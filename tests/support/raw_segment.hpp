// Test support: a segment seen from outside the library, as a broken or hostile process, or an observer, sees it:
// its file under /dev/shm, a raw read-write mapping of the whole object, a mapping of its data area through
// shmring::segment, and a read-only view of its header to observe the words the library shares.
// May touch: segments whose names the tests made.
#pragma once

#include <shmring/shmring.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmring_test {

/// The file of segment `name` under /dev/shm.
inline std::string shm_path(const std::string& name) { return shmring::object_name(name, "/dev/shm/"); }

/// Whether /dev/shm/shmring-<name> exists.
inline bool segment_exists(const std::string& name) {
  struct stat st{};
  return ::stat(shm_path(name).c_str(), &st) == 0;
}

/// The inode of /dev/shm/shmring-<name>, or 0.
inline ino_t segment_inode(const std::string& name) {
  struct stat st{};
  return ::stat(shm_path(name).c_str(), &st) == 0 ? st.st_ino : 0;
}

/// A raw read-write mapping of the whole object (shm_open + mmap, no library code), as a broken or hostile
/// process would make it.
class raw_map {
 public:
  explicit raw_map(const std::string& name) {
    fd_ = ::shm_open(shmring::object_name(name, "/").c_str(), O_RDWR, 0);
    if (fd_ < 0) throw std::runtime_error("shm_open " + name + " failed");
    struct stat st{};
    ::fstat(fd_, &st);
    size_ = static_cast<std::size_t>(st.st_size);
    p_ = static_cast<std::byte*>(::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0));
    if (p_ == MAP_FAILED) {
      ::close(fd_);
      throw std::runtime_error("mmap " + name + " failed");
    }
  }
  ~raw_map() {
    ::munmap(p_, size_);
    ::close(fd_);
  }
  raw_map(const raw_map&) = delete;
  raw_map& operator=(const raw_map&) = delete;
  [[nodiscard]] shmring::layout::header& h() const noexcept { return *reinterpret_cast<shmring::layout::header*>(p_); }
  [[nodiscard]] std::byte* data() const noexcept { return p_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
  std::byte* p_ = nullptr;
};

/// A read-write mapping of a whole segment through shmring::segment, apart from any producer or consumer: tests
/// write corruption through it. data() is the data area (after the header).
class raw_segment {
 public:
  explicit raw_segment(const std::string& name)
      : seg_(shmring::segment::open(name, shmring::segment::access::read_write)) {
    seg_.map(seg_.real_size());
  }
  [[nodiscard]] shmring::layout::header& header() const noexcept {
    return *std::launder(reinterpret_cast<shmring::layout::header*>(seg_.data()));
  }
  [[nodiscard]] std::byte* data() const noexcept { return seg_.data() + header().control.data_offset; }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return header().control.capacity; }

 private:
  shmring::segment seg_;
};

/// A read-only view of a segment's header, to observe the words the library shares (indices, sleeping flags).
class header_view {
 public:
  explicit header_view(const std::string& name)
      : seg_(shmring::segment::open(name, shmring::segment::access::read_only)) {
    seg_.map(sizeof(shmring::layout::header));
  }
  [[nodiscard]] const shmring::layout::header& h() const noexcept {
    return *std::launder(reinterpret_cast<const shmring::layout::header*>(seg_.data()));
  }
  /// The consumer's index relative to the first one (what consumer<T>::popped() says).
  [[nodiscard]] std::uint64_t popped() const noexcept {
    // acquire: pairs with the consumer's release store of tail.
    return h().tail.value.load(std::memory_order_acquire) - h().control.initial_index;
  }

 private:
  shmring::segment seg_;
};

}  // namespace shmring_test
