// shmring-bridge recv: the journal, a small file beside the receiving ring that says where the stream stands at
// every head the bridge publishes (docs/bridge.md, "Receiver journal"). Two slots written in turn, each with a
// generation and a checksum; an entry is written BEFORE the index store that makes the ring's head equal its
// `head`, so after a SIGKILL the entry whose head equals the ring's head is the exact state.
// May touch: its own file (mmap'd, MAP_SHARED: a store is in the page cache the moment it is made, so a killed
// process loses nothing it stored).
#pragma once

#include "wire.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmring_bridge {

/// The stream's state at one head of the receiving ring.
struct stream_state {
  std::uint64_t head = 0;            ///< the receiving ring's head this state belongs to
  std::uint32_t bound = 0;           ///< 1 once a stream is bound (stream is valid)
  std::uint32_t in_message = 0;      ///< 1 while a message is partly written
  wire::stream_id stream;            ///< the sending ring
  std::uint64_t next = 0;            ///< sender index of the record needed next (in progress, or the one after)
  std::uint64_t record_base = 0;     ///< in_message: the message offset where record `next` starts
  std::uint64_t sequence = 0;        ///< in_message: the message's sequence
  std::uint64_t sent = 0;            ///< in_message: payload bytes of it published
  std::uint64_t size = 0;            ///< in_message: its length
  std::uint64_t timestamp_ns = 0;    ///< in_message: its timestamp
  std::uint32_t type = 0;            ///< in_message: its type
  std::uint16_t type_tag = 0;        ///< in_message: its tag
  std::uint8_t flags = 0;            ///< in_message: its user flags
  std::uint8_t has_last = 0;         ///< 1 once a whole message was written (last_sequence is valid)
  std::uint64_t last_sequence = 0;   ///< the sequence of the last whole message written
};

class journal {
 public:
  /// Opens (creating, mode 0600) the journal at path. Throws std::runtime_error.
  explicit journal(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open the journal " + path + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
      ::close(fd_);
      throw std::runtime_error("the journal " + path + " is not a regular file of this user");
    }
    if (st.st_size != static_cast<off_t>(file_size) && ::ftruncate(fd_, file_size) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot size the journal " + path + ": " + std::strerror(errno));
    }
    void* p = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
      ::close(fd_);
      throw std::runtime_error("cannot map the journal " + path + ": " + std::strerror(errno));
    }
    base_ = static_cast<std::byte*>(p);
  }
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;
  ~journal() {
    ::munmap(base_, file_size);
    ::close(fd_);
  }

  /// The valid entry whose head equals ring_head (the newest if both do); nothing if none does. `any` tells
  /// whether the file holds any valid entry (a fresh file holds none).
  std::optional<stream_state> recover(std::uint64_t ring_head, bool& any) {
    any = false;
    std::optional<stream_state> best;
    std::uint64_t best_gen = 0;
    for (int i = 0; i < 2; ++i) {
      std::uint64_t gen = 0;
      const auto s = read_slot(i, gen);
      if (!s) continue;
      any = true;
      if (gen > gen_) gen_ = gen;
      if (s->head == ring_head && (!best || gen > best_gen)) {
        best = s;
        best_gen = gen;
      }
    }
    return best;
  }

  /// Writes s into the older slot (call before publishing s.head).
  void write(const stream_state& s) noexcept {
    ++gen_;
    std::byte* slot = base_ + static_cast<std::size_t>(gen_ & 1) * slot_size;
    std::byte tmp[slot_size] = {};
    wire::put(tmp, entry_magic);
    wire::put(tmp + 8, gen_);
    std::memcpy(tmp + 16, &s, sizeof s);
    wire::put(tmp + slot_size - 8, wire::fnv1a64({tmp, slot_size - 8}));
    std::memcpy(slot, tmp, slot_size);
  }

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  static constexpr std::size_t slot_size = 160;
  static constexpr std::size_t file_size = 4096;
  static constexpr std::uint64_t entry_magic = 0x314c4e524a425253ull;  // "SRBJRNL1"
  static_assert(sizeof(stream_state) + 24 <= slot_size);

  std::optional<stream_state> read_slot(int i, std::uint64_t& gen) const noexcept {
    std::byte tmp[slot_size];
    std::memcpy(tmp, base_ + static_cast<std::size_t>(i) * slot_size, slot_size);  // one read, then checked
    if (wire::get<std::uint64_t>(tmp) != entry_magic) return std::nullopt;
    if (wire::get<std::uint64_t>(tmp + slot_size - 8) != wire::fnv1a64({tmp, slot_size - 8})) return std::nullopt;
    gen = wire::get<std::uint64_t>(tmp + 8);
    stream_state s;
    std::memcpy(&s, tmp + 16, sizeof s);
    if (s.bound > 1 || s.in_message > 1 || s.has_last > 1 || s.sent > s.size || s.size > shmring::max_message_size ||
        s.record_base > s.sent)
      return std::nullopt;
    return s;
  }

  std::string path_;
  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::uint64_t gen_ = 0;
};

}  // namespace shmring_bridge
