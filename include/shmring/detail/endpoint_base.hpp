// shmring: what every producer and consumer (typed and message) offers besides its ring: its name, its futex
// counters, its status, and its end (close or detach). It holds the side's attachment; the four endpoint classes
// derive from it and add their ring.
// May touch: the attachment it holds (its stats line, its header words through status()).
#pragma once

#include <shmring/detail/attachment.hpp>
#include <shmring/status.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace shmring::detail {

class endpoint_base {
 public:
  /// Anyone. The segment's user name.
  [[nodiscard]] const std::string& name() const noexcept { return ep_.name(); }
  /// Anyone. Futex wake system calls this side has made for its peer (every process that attached on this side).
  [[nodiscard]] std::uint64_t wake_calls() const noexcept {
    return ep_.my_stats().wake_calls.load(std::memory_order_relaxed);
  }
  /// Anyone. Futex waits (sleeps in the kernel) this side has made waiting for its peer (every process that
  /// attached on this side).
  [[nodiscard]] std::uint64_t sleeps() const noexcept { return ep_.my_stats().sleeps.load(std::memory_order_relaxed); }
  /// Anyone. A snapshot of the ring's header (see shmring::status): fill level, both sides' counters and attach
  /// state. A few system calls: not for the hot path. errc::inherited in a fork child, errc::truncated once the
  /// segment was truncated under it.
  [[nodiscard]] ring_status status() const {
    ep_.check_owner();
    ep_.check_intact();  // a truncated segment's header is private zeros now: nothing to report but that
    return attachment_status(ep_);
  }
  /// This side's thread. Ends this side for good (docs: README "Lifecycles"). A producer ends its stream: the
  /// consumer receives everything sent before, then its waiting calls throw errc::closed, its try_ calls return
  /// nothing and producer_state() says closed; a producer that attaches later starts a new stream. A consumer
  /// leaves: the producer's waiting calls throw errc::closed instead of waiting for room, and what is in the
  /// ring stays for a consumer that attaches later. Detaches; the object is unusable afterwards.
  void close() noexcept { ep_.close(); }
  /// This side's thread. Detaches now (the destructor does too): the peer waits for this side to attach again.
  /// The object is unusable afterwards.
  void detach() noexcept { ep_.detach(); }

  /// This side's event descriptor (docs/events.md): poll, epoll or select report it readable when this side may
  /// have something to do: data (a consumer), room (a producer), or the peer closed, detached, died or attached.
  /// Created on the first call and owned by the endpoint (do not close it). The protocol: drain with try_ calls
  /// until they find nothing, call arm(), and wait on the descriptor only when arm() returned true; then drain
  /// again. Readiness is never lost; a spurious one is possible (a try_ call then finds nothing: arm again).
  /// Level- and edge-triggered epoll both work: arm() reads away what made it readable before it announces this
  /// side, so every later event is a new edge. Any thread may wait on the descriptor; the try_ calls and arm()
  /// stay with the endpoint's thread. Throws errc::inherited in a fork child, errc::system_error, or
  /// errc::already_attached when another process holds this side's wake address.
  [[nodiscard]] int native_handle() const { return ep_.native_handle(); }
  /// This side's thread. Announces that it is about to wait on native_handle(): true when it may wait now (every
  /// later event makes the descriptor readable), false when it has something to do already (drain again). A
  /// membarrier system call; the peer's push and pop stay exactly what they were (one relaxed load).
  [[nodiscard]] bool arm() const { return ep_.arm(); }

  friend struct event_access;

 protected:
  explicit endpoint_base(attachment ep) noexcept : ep_(std::move(ep)) {}
  endpoint_base(endpoint_base&&) noexcept = default;
  endpoint_base& operator=(endpoint_base&&) = delete;
  ~endpoint_base() = default;

  attachment ep_;
};

}  // namespace shmring::detail
