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
  /// stay with the endpoint's thread. Throws errc::inherited in a fork child, or
  /// errc::system_error when the kernel refuses a resource.
  [[nodiscard]] int native_handle() const { return ep_.native_handle(); }
  /// This side's thread. Announces that it is about to wait on native_handle(): true when it may wait now (every
  /// later event makes the descriptor readable), false when it has something to do already (drain again). A
  /// membarrier system call; the peer's push and pop stay exactly what they were (one relaxed load).
  [[nodiscard]] bool arm() const { return ep_.arm(); }

  /// This side's thread. A file-backed ring (docs/durability.md): a producer forces every element or record it
  /// published so far to storage, data pages first, then the header page that holds head; a consumer forces the
  /// header page (its tail and delivered word), so that after a reboot it resumes after what it released. A
  /// no-op on a /dev/shm ring. Throws errc::system_error when msync fails (EIO: the storage lost the pages).
  void sync() {
    const int e = ep_.which() == side::producer
                      ? ep_.sync_written(ep_.header().head.value.load(std::memory_order_relaxed))  // our own index
                      : ep_.sync_header();
    if (e != 0) throw error(errc::system_error, name(), "msync of the ring's file failed", e);
  }
  /// Anyone. A file-backed ring: bytes of records (message rings) or elements (typed rings of turn slots) the
  /// recovery step at this side's attach discarded (torn, unsynced or stale after a crash: docs/durability.md).
  /// 0 otherwise.
  [[nodiscard]] std::uint64_t recovered_bytes() const noexcept { return ep_.recovery().discarded(); }
  /// Anyone. The errno of the last automatic sync (options::durability) that failed; 0 when none did.
  [[nodiscard]] int sync_error() const noexcept { return ep_.sync_error(); }

  friend struct event_access;

 protected:
  explicit endpoint_base(attachment ep) noexcept : ep_(std::move(ep)) {}
  endpoint_base(endpoint_base&&) noexcept = default;
  endpoint_base& operator=(endpoint_base&&) = delete;
  ~endpoint_base() = default;

  attachment ep_;
};

}  // namespace shmring::detail
