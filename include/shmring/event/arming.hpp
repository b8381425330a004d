// shmring: arming an endpoint's descriptor: S2-S4 of the wake-up protocol (wait.hpp) for a side that then waits in
// poll/epoll instead of on the futex. Held by detail::attachment, created by the first native_handle().
// May touch: this side's wait line (`sleeping`), the header's index words and the peer's attach slot (loads only),
// and the wake channel (event/channel.hpp).
//
// arm() answers "may I sleep on the descriptor now?": false when the side has something to do already, true when
// it has announced itself and anything the peer does from now on makes the descriptor readable. It is exact for
// the conditions a side waits for:
//   - consumer: data (head != tail: the consumer's own tail is exact, the producer's head is re-read after the
//     barrier);
//   - typed producer: a free slot (head - tail < capacity);
//   - message producer: the consumer freed bytes since the previous arm (tail moved): a message of n bytes needs
//     room the producer alone can judge (try_send), so every tail move is worth one more try, and none is missed
//     because it is compared with the tail of the previous arm, which the failed try_send saw or passed;
//   - the peer: its slot's state or attach count changed (close, detach, re-attach) since the previous arm, or the
//     process attached there died (its pidfd became readable; without a pidfd, peer() says dead).
// The first arm() of an endpoint returns false (nothing was seen before), which costs one more drain.
#pragma once

#include <shmring/detail/proc.hpp>
#include <shmring/event/channel.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/snapshot.hpp>
#include <shmring/options.hpp>
#include <shmring/wait.hpp>

#include <atomic>
#include <cstdint>
#include <string>

namespace shmring::detail {

class event_endpoint {
 public:
  event_endpoint(const wake_address& mine, const std::string& name) : chan_(mine, name) {}

  [[nodiscard]] int fd() const noexcept { return chan_.fd(); }

  /// S2 for a descriptor sleeper: drains what woke us last time, then announces sleeping_fd. The caller runs the
  /// heavy barrier (S3) next, once for any number of endpoints (shmring::poller arms many at once), then check().
  void announce(layout::wait_line& mine) noexcept {
    chan_.drain();
    // S2: seq_cst orders this store before the barrier and before check()'s re-reads (as in wait_until).
    mine.sleeping.store(layout::sleeping_fd, std::memory_order_seq_cst);
  }

  /// S4: true when nothing is to be done (stay announced: sleep on the descriptor); false when there is, and then
  /// `sleeping` is cleared again. exact says whether the barrier ran (false: membarrier unavailable).
  /// dead_peer asks the kernel whether the attached peer is dead (attachment::peer(), a system call), used only
  /// when its process cannot be watched through a pidfd.
  template <class DeadPeer>
  bool check(layout::header& h, const layout::header_snapshot& snap, bool consumer_side, layout::wait_line& mine,
             DeadPeer&& dead_peer) noexcept {
    bool work = false;
    // acquire: pairs with the peer's release store of its index (the ring's publish).
    const std::uint64_t head = consumer_side ? h.head.value.load(std::memory_order_acquire)
                                             : h.head.value.load(std::memory_order_relaxed);  // our own index
    const std::uint64_t tail = consumer_side ? h.tail.value.load(std::memory_order_relaxed)    // our own index
                                             : h.tail.value.load(std::memory_order_acquire);
    if (consumer_side) {
      work = head != tail;
    } else if (snap.kind == static_cast<std::uint32_t>(segment_kind::typed)) {
      work = head - tail < snap.capacity;
    } else {
      work = !seen_once_ || tail != last_tail_;
      last_tail_ = tail;
    }
    // The peer's slot. acquire: pairs with the release store of state in the peer's take_side() and leave().
    const layout::attach_slot& sl = consumer_side ? h.attach.producer : h.attach.consumer;
    const std::uint32_t state = sl.state.load(std::memory_order_acquire);
    const std::uint64_t count = sl.attach_count.load(std::memory_order_relaxed);
    if (!seen_once_ || state != last_state_ || count != last_count_) {
      work = true;
      last_state_ = state;
      last_count_ = count;
      watched_ = false;
      chan_.unwatch();  // a peer that left may exit: only an attached one is watched
      if (state == static_cast<std::uint32_t>(layout::attach_state::attached))
        watched_ = chan_.watch(static_cast<long>(sl.pid.load(std::memory_order_relaxed)),
                               sl.start_time.load(std::memory_order_relaxed), &process_start_time);
      dead_reported_ = false;
    } else if (state == static_cast<std::uint32_t>(layout::attach_state::attached) && !dead_reported_) {
      // The peer is said to be attached: has it died since? Reported once; a new attach re-arms this.
      const bool died = watched_ ? chan_.watched_died() : dead_peer();
      if (died) {
        dead_reported_ = true;
        watched_ = false;
        work = true;
      }
    }
    seen_once_ = true;
    if (work) mine.sleeping.store(0, std::memory_order_relaxed);
    return !work;
  }

  /// Whether a sleep on the descriptor is woken by every event without a bound: the barrier ran and the peer's
  /// death is watched by a pidfd. Otherwise shmring::poller wakes at the liveness interval to arm again.
  [[nodiscard]] bool exact(bool barrier_ran) const noexcept {
    return barrier_ran &&
           (watched_ || dead_reported_ || last_state_ != static_cast<std::uint32_t>(layout::attach_state::attached));
  }
  /// Wake datagrams from another user that were dropped.
  [[nodiscard]] std::uint64_t foreign() const noexcept { return chan_.foreign(); }

 private:
  wake_channel chan_;
  bool seen_once_ = false;
  bool watched_ = false;        // the attached peer's process is in the epoll set through a pidfd
  bool dead_reported_ = false;  // its death was reported by an arm() that returned false
  std::uint32_t last_state_ = 0;
  std::uint64_t last_count_ = 0;
  std::uint64_t last_tail_ = 0;
};

}  // namespace shmring::detail
