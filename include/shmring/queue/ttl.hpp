// shmring: time-to-live on receive (seed 002's TTL, docs/queue.md): ttl_consumer receives from a message_consumer
// and skips the messages older than a time-to-live, judged by the record timestamp, counting and releasing them.
// May touch: nothing of its own; the message_consumer it is given (read, release).
//
// The rule: a message is expired when its timestamp_ns is not 0 and now - timestamp_ns > ttl, with now read from
// the clock the ttl_consumer was given (by default detail::timestamp_ns(): CLOCK_MONOTONIC, the clock producers
// stamp with, so it compares only on one machine, within one boot). A timestamp of 0 is a producer made with
// options::timestamps = false: such messages never expire. A timestamp in the future (another clock) does not
// either. An expired message is released (it leaves the ring as if received) and counted in expired(); it is not
// in the segment's counters beyond being received (the header has no word left for it: status() shows it as
// received, the wrapper knows how many of those were expired).
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/clock.hpp>
#include <shmring/message.hpp>
#include <shmring/wait.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

namespace shmring::queue {

/// Whether a message stamped timestamp_ns is expired at now_ns under ttl (see the file comment).
constexpr bool expired_at(std::uint64_t timestamp_ns, std::uint64_t now_ns, std::chrono::nanoseconds ttl) noexcept {
  if (timestamp_ns == 0 || now_ns <= timestamp_ns) return false;
  const std::uint64_t age = now_ns - timestamp_ns;
  return ttl.count() < 0 || age > static_cast<std::uint64_t>(ttl.count());
}

/// Receives from a message_consumer, skipping expired messages. One thread uses it (the consumer's).
class ttl_consumer {
 public:
  /// The clock: CLOCK_MONOTONIC in ns, as record timestamps are.
  using clock_fn = std::function<std::uint64_t()>;

  /// Over c (which must outlive this object), with time-to-live ttl (a negative one expires every stamped
  /// message) and the clock now (tests pass their own).
  ttl_consumer(message_consumer& c, std::chrono::nanoseconds ttl, clock_fn now = [] { return detail::timestamp_ns(); })
      : c_(&c), ttl_(ttl), now_(std::move(now)) {}

  /// Consumer thread only. The next message that is not expired, skipping (releasing and counting) expired ones;
  /// nothing when no whole message is left.
  [[nodiscard]] std::optional<message> try_receive() {
    while (const auto v = c_->try_read()) {
      if (!drop_if_expired(v->info)) return take(*v);
    }
    return std::nullopt;
  }

  /// Consumer thread only. As try_receive(), waiting at most d (any duration, saturated) for a message that is
  /// not expired; nothing on timeout. Throws as message_consumer::read_for does (closed, peer_dead, corrupted).
  template <class Rep, class Period>
  [[nodiscard]] std::optional<message> receive_for(std::chrono::duration<Rep, Period> d) {
    const auto deadline = detail::deadline_after(d);
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      const auto left = deadline == std::chrono::steady_clock::time_point::max()
                            ? std::chrono::nanoseconds::max()
                            : std::chrono::nanoseconds(std::max(deadline - now, std::chrono::steady_clock::duration::zero()));
      const auto v = c_->read_for(left);
      if (!v) return std::nullopt;
      if (!drop_if_expired(v->info)) return take(*v);
    }
  }

  /// Consumer thread only. Messages skipped as expired so far.
  [[nodiscard]] std::uint64_t expired() const noexcept { return expired_; }
  /// Consumer thread only. The time-to-live.
  [[nodiscard]] std::chrono::nanoseconds ttl() const noexcept { return ttl_; }

 private:
  bool drop_if_expired(const message_info& i) {
    if (!expired_at(i.timestamp_ns, now_(), ttl_)) return false;
    c_->release();
    ++expired_;
    return true;
  }

  message take(const message_view& v) {
    message m{v.info.type, v.info.flags, v.info.sequence, v.info.timestamp_ns,
              std::vector<std::byte>(v.payload.begin(), v.payload.end()), v.info.type_tag};
    c_->release();
    return m;
  }

  message_consumer* c_;
  std::chrono::nanoseconds ttl_;
  clock_fn now_;
  std::uint64_t expired_ = 0;
};

}  // namespace shmring::queue
