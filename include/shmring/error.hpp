// shmring: the one exception type and its error codes.
// May touch: nothing shared. Thrown by setup (create/open/attach) and by waiting calls, never by try_* calls.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace shmring {

/// Why a shmring call failed. Stable values: scripts and other languages may compare them.
enum class errc : int {
  ok = 0,
  invalid_name = 1,         ///< the name is empty, too long, or holds '/', '.', '..' or control bytes
  invalid_argument = 2,     ///< a capacity of 0, not a power of two, or too large; other bad parameters
  not_found = 3,            ///< no segment of that name
  already_exists = 4,       ///< create found a segment of that name
  permission_denied = 5,    ///< the segment is owned by another user, or group/others may write it
  not_ready = 6,            ///< the creator did not finish setting the segment up in time (or died doing so)
  bad_magic = 7,            ///< the segment is not a shmring segment
  version_mismatch = 8,     ///< the segment has another layout version
  kind_mismatch = 9,        ///< a typed ring opened as a message ring, or the reverse
  element_mismatch = 10,    ///< element size or alignment differ from the opener's type
  capacity_mismatch = 11,   ///< the opener asked for a capacity the segment does not have
  layout_mismatch = 12,     ///< cache-line size, data offset or declared size disagree with this build
  truncated = 13,           ///< the segment is smaller than its header declares
  already_attached = 14,    ///< a live producer (or consumer) is attached already
  peer_dead = 15,           ///< the other side died while this side waited for it
  corrupted = 16,           ///< an index, length or record read from shared memory is impossible
  message_too_large = 17,   ///< a payload over the documented limit
  type_mismatch = 18,       ///< a typed receive found a payload of another size or type
  system_error = 19,        ///< a system call failed; the message names it and errno
  no_space = 20,            ///< the system cannot hold the segment: /dev/shm too full, RLIMIT_FSIZE, or more than memory
  not_a_segment = 21,       ///< the name is taken by something that is not a regular file (a FIFO, a directory...)
  closed = 22,              ///< the peer closed its side: end of stream (after everything it published), or no reader
  inherited = 23,           ///< this endpoint came through fork(): only the process that attached may use it
  limit_exceeded = 24,      ///< a process resource limit forbids what an option asks (RLIMIT_MEMLOCK for memory.lock)
  unsupported = 25,         ///< the system does not offer what an option requires (memory.huge = huge_pages::require)
};
/// The highest errc value: the bindings' tables of codes (the C header, Python's exception classes) run to it.
inline constexpr errc last_errc = errc::unsupported;

/// A short, stable name for an error code ("peer_dead").
constexpr std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::invalid_name: return "invalid_name";
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::permission_denied: return "permission_denied";
    case errc::not_ready: return "not_ready";
    case errc::bad_magic: return "bad_magic";
    case errc::version_mismatch: return "version_mismatch";
    case errc::kind_mismatch: return "kind_mismatch";
    case errc::element_mismatch: return "element_mismatch";
    case errc::capacity_mismatch: return "capacity_mismatch";
    case errc::layout_mismatch: return "layout_mismatch";
    case errc::truncated: return "truncated";
    case errc::already_attached: return "already_attached";
    case errc::peer_dead: return "peer_dead";
    case errc::corrupted: return "corrupted";
    case errc::message_too_large: return "message_too_large";
    case errc::type_mismatch: return "type_mismatch";
    case errc::system_error: return "system_error";
    case errc::no_space: return "no_space";
    case errc::not_a_segment: return "not_a_segment";
    case errc::closed: return "closed";
    case errc::inherited: return "inherited";
    case errc::limit_exceeded: return "limit_exceeded";
    case errc::unsupported: return "unsupported";
  }
  return "unknown";
}

/// The only exception shmring throws. what() names the segment and what was wrong:
/// `shmring: "orders": element_mismatch: element size is 64 in the segment, 8 in this program`.
class error : public std::runtime_error {
 public:
  error(errc code, std::string_view segment, std::string_view detail, int sys_errno = 0)
      : std::runtime_error(format(code, segment, detail, sys_errno)), code_(code), errno_(sys_errno) {}

  /// The error code.
  [[nodiscard]] errc code() const noexcept { return code_; }
  /// errno of the failed system call, or 0.
  [[nodiscard]] int sys_errno() const noexcept { return errno_; }

 private:
  static std::string format(errc code, std::string_view segment, std::string_view detail, int sys_errno) {
    std::string s = "shmring: ";
    if (!segment.empty()) {  // errors about a received message (message::as) name no segment
      s.append("\"");
      s.append(segment);
      s.append("\": ");
    }
    s.append(to_string(code));
    if (!detail.empty()) {
      s.append(": ");
      s.append(detail);
    }
    if (sys_errno != 0) {
      s.append(" (");
      s.append(std::generic_category().message(sys_errno));
      s.append(")");
    }
    return s;
  }

  errc code_;
  int errno_;
};

}  // namespace shmring
