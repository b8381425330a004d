// shmring: the pollable descriptor behind an endpoint's native_handle() (docs/events.md).
// May touch: system calls only (socket, bind, sendto, recvmsg, epoll, pidfd_open, poll); it reads no shared memory
// itself: detail::attachment hands it the words it probes.
//
// WHAT THE DESCRIPTOR IS
// An epoll instance (readable when any member is) holding
//   - this side's wake socket: a Unix datagram socket bound to an abstract address derived from the segment
//     (its creator's uid, its creation time and its name's hash) and the side. A waker that finds this side's
//     `sleeping` word with sleeping_fd set sends it one empty datagram (sendto, MSG_DONTWAIT|MSG_NOSIGNAL): the
//     datagram arriving is what makes the descriptor readable. Datagrams carry the sender's credentials
//     (SO_PASSCRED); those of another user are counted and dropped: they can cause a spurious readiness (allowed)
//     and nothing else, because readiness only ever makes the owner look at the shared memory again, which the
//     segment's own 0600 rule protects.
//   - a pidfd of the current peer process (pidfd_open, checked against the start time the peer wrote in its
//     attach slot, so a recycled pid is never watched): the kernel makes it readable when that process exits,
//     which is how a peer killed by SIGKILL, which can send nothing, still wakes us.
// Why not a FIFO beside the segment: it leaves files behind after a crash and a write to one whose reader just
// went away raises SIGPIPE in the waker. Why not an eventfd handed over a socket: both sides would have to be
// awake to hand it over, and it has to be handed over again at every restart. The abstract address needs neither:
// a restarted side binds the same address again (the kernel freed it when the old process died) and a waker
// needs nothing but the address.
#pragma once

#include <shmring/error.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

namespace shmring::detail {

/// An abstract Unix socket address (sun_path starts with NUL), with its length for bind/sendto.
struct wake_address {
  sockaddr_un addr{};
  socklen_t len = 0;
};

/// The wake address of side `consumer_side` (true: the consumer) of the segment named name, created at created_ns
/// by creator_uid. Both sides compute it from their validated snapshot, so neither needs to tell the other.
inline wake_address make_wake_address(std::string_view name, std::uint32_t creator_uid, std::uint64_t created_ns,
                                      bool consumer_side) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the name: the address must fit sun_path's 108 bytes
  for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  wake_address a;
  a.addr.sun_family = AF_UNIX;
  char text[96];
  const int n = std::snprintf(text, sizeof text, "shmring/%u/%016llx/%016llx/%c", creator_uid,
                              static_cast<unsigned long long>(created_ns), static_cast<unsigned long long>(h),
                              consumer_side ? 'c' : 'p');
  a.addr.sun_path[0] = '\0';
  std::memcpy(a.addr.sun_path + 1, text, static_cast<std::size_t>(n));
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<std::size_t>(n));
  return a;
}

/// The sending half, one per attachment: an unbound datagram socket created on first use. Async-signal-safe
/// (leave() runs from the termination handler): socket and sendto only, the descriptor kept in an atomic.
class wake_sender {
 public:
  wake_sender() = default;
  wake_sender(wake_sender&& o) noexcept : fd_(o.fd_.exchange(-1, std::memory_order_relaxed)) {}
  wake_sender& operator=(wake_sender&&) = delete;
  ~wake_sender() { close(); }

  /// Sends one wake datagram to a. Errors are ignored on purpose: ECONNREFUSED means nobody is bound there (the
  /// sleeper went away: its successor re-checks the ring when it arms), EAGAIN a full queue (already readable).
  void send(const wake_address& a) const noexcept {
    int fd = fd_.load(std::memory_order_relaxed);
    if (fd < 0) {
      const int nfd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (nfd < 0) return;
      int expected = -1;
      // relaxed: the descriptor number is the whole message, no memory is published with it.
      if (fd_.compare_exchange_strong(expected, nfd, std::memory_order_relaxed)) {
        fd = nfd;
      } else {
        ::close(nfd);
        fd = expected;
      }
    }
    (void)::sendto(fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
  }
  void close() noexcept {
    const int fd = fd_.exchange(-1, std::memory_order_relaxed);
    if (fd >= 0) ::close(fd);
  }

 private:
  mutable std::atomic<int> fd_{-1};  // a cache: sending from a const attachment is not a change of it
};

/// The receiving half and the descriptor itself (see the top of this file). Owned by one attachment; created by
/// the first native_handle().
class wake_channel {
 public:
  /// Binds this side's address and builds the epoll set. Throws errc::system_error (with errno) when a resource
  /// is missing, errc::already_attached when another process holds the address (one still attached on this side
  /// in a fork child that kept the descriptor, or a squatter).
  wake_channel(const wake_address& mine, const std::string& name) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) fail(name, "epoll_create1");
    sock_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock_ < 0) fail(name, "socket");
    const int one = 1;
    if (::setsockopt(sock_, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) fail(name, "setsockopt(SO_PASSCRED)");
    if (::bind(sock_, reinterpret_cast<const sockaddr*>(&mine.addr), mine.len) != 0) {
      if (errno == EADDRINUSE) {
        release();
        throw error(errc::already_attached, name,
                    "another process holds this side's wake address (a fork child that kept the descriptor?)");
      }
      fail(name, "bind");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = 0;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, sock_, &ev) != 0) fail(name, "epoll_ctl");
  }
  wake_channel(const wake_channel&) = delete;
  wake_channel& operator=(const wake_channel&) = delete;
  ~wake_channel() { release(); }

  [[nodiscard]] int fd() const noexcept { return ep_; }

  /// Reads every queued datagram; those from another user are counted in foreign() and otherwise ignored.
  void drain() noexcept {
    for (;;) {
      alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(ucred))> control{};
      char byte = 0;
      iovec iov{&byte, 1};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = control.data();
      m.msg_controllen = control.size();
      if (::recvmsg(sock_, &m, MSG_DONTWAIT) < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN: empty
      }
      bool ours = false;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
          ucred cr{};
          std::memcpy(&cr, CMSG_DATA(c), sizeof cr);
          ours = cr.uid == ::geteuid();
        }
      }
      if (!ours) ++foreign_;
    }
  }

  /// Watches process pid (its start time must be start_time: see the top of the file) for death, replacing the
  /// process watched before. False when it cannot be watched (no pidfd_open, another pid namespace, already gone).
  bool watch(long pid, std::uint64_t start_time, std::uint64_t (*start_of)(long)) noexcept {
    unwatch();
#if defined(SYS_pidfd_open)
    if (pid <= 0) return false;
    const int p = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
    if (p < 0) return false;
    // Opened first, checked second: the pidfd pins the process, so a start time that matches now names the peer.
    if (start_time == 0 || start_of(pid) != start_time) {
      ::close(p);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = 1;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, p, &ev) != 0) {
      ::close(p);
      return false;
    }
    pidfd_ = p;
    return true;
#else
    (void)pid;
    (void)start_time;
    (void)start_of;
    return false;
#endif
  }
  /// True once the watched process has exited (then it is no longer watched: the death is reported once).
  bool watched_died() noexcept {
    if (pidfd_ < 0) return false;
    pollfd p{pidfd_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) return false;
    unwatch();
    return true;
  }
  [[nodiscard]] bool watching() const noexcept { return pidfd_ >= 0; }
  /// Datagrams from another user dropped so far.
  [[nodiscard]] std::uint64_t foreign() const noexcept { return foreign_; }

  /// Stops watching (the peer left: its process may exit without that being news).
  void unwatch() noexcept {
    if (pidfd_ < 0) return;
    (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, pidfd_, nullptr);
    ::close(pidfd_);
    pidfd_ = -1;
  }
 private:
  void release() noexcept {
    unwatch();
    if (sock_ >= 0) ::close(sock_);
    if (ep_ >= 0) ::close(ep_);
    sock_ = ep_ = -1;
  }
  [[noreturn]] void fail(const std::string& name, const char* what) {
    const int e = errno;
    release();
    throw error(errc::system_error, name, std::string("the event descriptor: ") + what + " failed", e);
  }

  int ep_ = -1;
  int sock_ = -1;
  int pidfd_ = -1;
  std::uint64_t foreign_ = 0;
};

}  // namespace shmring::detail
