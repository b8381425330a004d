// shmring: shmring::poller, one thread waiting on many endpoints (typed and message, producers and consumers) and
// plain descriptors at once (docs/events.md).
// May touch: an epoll instance of its own; the endpoints' descriptors and their arming (event/arming.hpp).
#pragma once

#include <shmring/detail/endpoint_base.hpp>
#include <shmring/error.hpp>
#include <shmring/wait.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <sys/epoll.h>
#include <unistd.h>

namespace shmring {

namespace detail {
/// The poller's way to an endpoint's attachment (endpoint_base names it a friend).
struct event_access {
  static const attachment& of(const endpoint_base& e) noexcept { return e.ep_; }
};
}  // namespace detail

/// Waits on several endpoints and descriptors at once. One thread uses a poller, the thread that uses its
/// endpoints (it arms them: see endpoint_base::arm()). The use: add everything, then loop { for each id that
/// wait() returns, drain that endpoint with try_ calls (or read that descriptor) }. An endpoint reported ready
/// is armed again by the next wait(), so it must be drained before (what is left is reported again at once: no
/// event is lost, level-triggered). Spurious reports are possible (a try_ call then finds nothing).
/// An endpoint must stay where it is (not moved, not destroyed) while it is added: remove() it first.
class poller {
 public:
  /// What add() returns and wait() reports: the index of the entry, in the order of the add() calls.
  using id = std::size_t;

  poller() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (ep_ < 0) throw error(errc::system_error, "", "poller: epoll_create1 failed", errno);
  }
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;
  ~poller() { ::close(ep_); }

  /// Adds a producer<T>, consumer<T>, message_producer or message_consumer: ready when it may have something to do
  /// (data, room, or its peer closed, detached, died or attached). Throws as native_handle() does.
  id add(const detail::endpoint_base& e) {
    const detail::attachment& a = detail::event_access::of(e);
    return insert(entry{&a, a.native_handle(), false}, EPOLLIN);
  }
  /// Adds a plain descriptor (not owned: the caller keeps and closes it), ready for the epoll events given
  /// (EPOLLIN by default; level-triggered).
  id add_fd(int fd, std::uint32_t events = EPOLLIN) { return insert(entry{nullptr, fd, false}, events); }
  /// Removes an entry; its id is not reused. Removing one twice does nothing.
  void remove(id i) noexcept {
    if (i >= entries_.size() || entries_[i].fd < 0) return;
    (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, entries_[i].fd, nullptr);
    entries_[i] = entry{};
  }

  /// Waits at most timeout (any duration, saturated; zero looks without waiting, a negative one too) until at
  /// least one entry is ready, and returns the ready ones (empty: the timeout passed). The view is valid until the
  /// next call. Throws errc::system_error when epoll fails (not EINTR, which is retried).
  template <class Rep, class Period>
  std::span<const id> wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(timeout));
  }
  /// Waits without a timeout until at least one entry is ready.
  std::span<const id> wait() { return wait_until(std::chrono::steady_clock::time_point::max()); }

  /// Entries added and not removed.
  [[nodiscard]] std::size_t size() const noexcept {
    return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(), [](const entry& e) { return e.fd >= 0; }));
  }

 private:
  struct entry {
    const detail::attachment* ep = nullptr;  // nullptr: a plain descriptor
    int fd = -1;                             // -1: removed
    bool armed = false;                      // announced, and found with nothing to do: its descriptor speaks now
  };

  id insert(entry e, std::uint32_t events) {
    const id i = entries_.size();
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, e.fd, &ev) != 0)
      throw error(errc::system_error, e.ep != nullptr ? e.ep->name() : "", "poller: epoll_ctl(ADD) failed", errno);
    entries_.push_back(e);
    return i;
  }

  void mark(id i) {
    if (std::find(ready_.begin(), ready_.end(), i) == ready_.end()) ready_.push_back(i);
  }

  // Arms every endpoint not armed yet: all announce, one heavy barrier for all (S3), then each checks (S4).
  // Returns the longest this round may sleep without a liveness bound: max() when every arming was exact.
  std::chrono::nanoseconds arm_all() {
    bool any = false;
    for (entry& e : entries_)
      if (e.ep != nullptr && !e.armed) {
        e.ep->arm_announce();
        any = true;
      }
    if (!any) return bound_;
    const bool barrier = detail::heavy_barrier();
    bound_ = std::chrono::nanoseconds::max();
    for (id i = 0; i < entries_.size(); ++i) {
      entry& e = entries_[i];
      if (e.ep == nullptr || e.armed) continue;
      if (!e.ep->arm_check()) {
        mark(i);
        continue;
      }
      e.armed = true;
      if (!e.ep->events()->exact(barrier)) {
        const auto li = e.ep->opts().wait.liveness_interval;
        bound_ = std::min(bound_, li > std::chrono::nanoseconds::zero() ? li : std::chrono::milliseconds(20));
        inexact_ = true;
      }
    }
    return bound_;
  }

  std::span<const id> wait_until(std::chrono::steady_clock::time_point deadline) {
    using clock = std::chrono::steady_clock;
    ready_.clear();
    for (;;) {
      const std::chrono::nanoseconds bound = arm_all();
      int ms = 0;
      if (ready_.empty()) {
        const auto now = clock::now();
        auto left = deadline == clock::time_point::max() ? std::chrono::nanoseconds::max()
                                                          : std::chrono::nanoseconds(std::max(deadline - now, clock::duration::zero()));
        left = std::min(left, bound);
        if (left == std::chrono::nanoseconds::max()) {
          ms = -1;
        } else {  // rounded up: a wait of 0.3 ms must not become a busy loop of zero-millisecond waits
          const auto m = (left.count() + 999'999) / 1'000'000;
          ms = static_cast<int>(std::min<std::int64_t>(m, 1'000'000'000));
        }
      }
      epoll_event evs[64];
      const int n = ::epoll_wait(ep_, evs, 64, ms);
      if (n < 0 && errno != EINTR) throw error(errc::system_error, "", "poller: epoll_wait failed", errno);
      for (int k = 0; k < n; ++k) {
        const id i = static_cast<id>(evs[k].data.u64);
        if (i >= entries_.size() || entries_[i].fd < 0) continue;
        entries_[i].armed = false;  // reported: the caller drains it, the next wait() arms it again
        mark(i);
      }
      if (!ready_.empty()) return ready_;
      if (inexact_) {  // a liveness-bounded round ended: arm the inexact ones again (they check their peer then)
        inexact_ = false;
        for (entry& e : entries_)
          if (e.ep != nullptr) e.armed = false;
      }
      if (clock::now() >= deadline) return ready_;
    }
  }

  int ep_;
  std::vector<entry> entries_;
  std::vector<id> ready_;
  std::chrono::nanoseconds bound_ = std::chrono::nanoseconds::max();
  bool inexact_ = false;
};

}  // namespace shmring
