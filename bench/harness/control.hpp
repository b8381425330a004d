// Harness: the small shared blocks a benchmark and its peer talk through besides the queue under test. The
// control block: the peer says it is ready, acknowledges each completed round, counts wrong sequence numbers; the
// benchmark thread waits on it. shared_block<T> puts any such block in an anonymous shared mapping (memfd) that a
// child inherits as a descriptor.
// May touch: the memfd mappings it creates or is handed, and nothing of the queue under test.
#pragma once

#include "harness/fail.hpp"
#include "harness/process.hpp"

#include <shmring/config.hpp>

#include <atomic>
#include <cstdint>
#include <new>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace shmring_bench {

/// The sequence number that tells a consumer or echo peer to stop.
inline constexpr std::uint64_t quit = ~std::uint64_t{0};

/// Written by the consumer (or echo peer), read by the benchmark thread. Each word on a line of its own.
struct control {
  alignas(shmring::cache_line) std::atomic<std::uint64_t> ready{0};   // 1 once the peer is attached and pinned
  alignas(shmring::cache_line) std::atomic<std::uint64_t> acked{0};   // rounds the consumer has completed
  alignas(shmring::cache_line) std::atomic<std::uint64_t> failed{0};  // elements with a wrong sequence number
  alignas(shmring::cache_line) std::atomic<std::uint64_t> first_bad{0};
};

/// A T in an anonymous shared mapping (memfd), inherited by a child as a file descriptor.
template <class T>
class shared_block {
 public:
  /// Parent side: a new block, T value-initialised; name labels the memfd (/proc/<pid>/fd).
  explicit shared_block(const char* name) : name_(name) {
    fd_ = ::memfd_create(name, MFD_CLOEXEC);
    if (fd_ < 0 || ::ftruncate(fd_, sizeof(T)) != 0) die("memfd_create/ftruncate of " + name_ + " failed");
    map();
    ::new (static_cast<void*>(p_)) T();
  }
  /// Child side: maps the block its parent created.
  explicit shared_block(int fd) : fd_(fd), name_("an inherited block") { map(); }
  ~shared_block() {
    if (p_ != nullptr) ::munmap(p_, sizeof(T));
    if (fd_ >= 0) ::close(fd_);
  }
  shared_block(const shared_block&) = delete;
  shared_block& operator=(const shared_block&) = delete;

  [[nodiscard]] T& get() const noexcept { return *p_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  void map() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) die("mmap of " + name_ + " failed");
    p_ = static_cast<T*>(p);
  }
  int fd_ = -1;
  std::string name_;
  T* p_ = nullptr;
};

/// The control block of one benchmark run.
class shared_control : public shared_block<control> {
 public:
  shared_control() : shared_block("shmring-bench-control") {}
  /// Child side: maps the block its parent created.
  explicit shared_control(int fd) : shared_block(fd) {}
};

/// Waits for the consumer to be attached.
inline void start(control& ctl, child_process* peer = nullptr) {
  // acquire: pairs with the release store of ready in consume_rounds().
  spin_until([&] { return ctl.ready.load(std::memory_order_acquire) != 0; }, peer);
}

/// Waits for the acknowledgement of round r.
inline void end_round(control& ctl, std::uint64_t r, child_process* peer = nullptr) {
  // acquire: pairs with the release store of acked in consume_rounds().
  spin_until([&] { return ctl.acked.load(std::memory_order_acquire) >= r; }, peer);
}

}  // namespace shmring_bench
