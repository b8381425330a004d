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

 protected:
  explicit endpoint_base(attachment ep) noexcept : ep_(std::move(ep)) {}
  endpoint_base(endpoint_base&&) noexcept = default;
  endpoint_base& operator=(endpoint_base&&) = delete;
  ~endpoint_base() = default;

  attachment ep_;
};

}  // namespace shmring::detail
