// shmring: an urgent lane on top of two message rings (seed 002's priorities, docs/queue.md). urgent_producer sends
// a message flagged message_flags::urgent to a second ring (by default NAME.urgent) and every other one to NAME;
// urgent_consumer drains the urgent ring first and waits on both at once (shmring::poller, docs/events.md).
// May touch: nothing of its own; two message_producer / message_consumer endpoints and a poller over them.
//
// Ordering, precisely:
//   - per lane, FIFO: each lane is one ring, so the messages of one lane arrive in the order sent, every sequence
//     once (the lane's own sequence numbers);
//   - between lanes: a receive returns a normal message only when the urgent ring held no whole message when it
//     looked, just before; an urgent message published after that look waits for the next receive. Nothing else
//     is promised across lanes (an urgent message overtakes normal ones sent before it: that is the point; two
//     lanes have no common order);
//   - end of stream: a waiting receive throws errc::closed once both producers closed and both rings are drained;
//     errc::peer_dead once neither producer is alive, one of them died, and both rings are drained. One producer
//     that closed while the other goes on is no end: the other lane is still served.
#pragma once

#include <shmring/config.hpp>
#include <shmring/error.hpp>
#include <shmring/event/poller.hpp>
#include <shmring/message.hpp>
#include <shmring/options.hpp>
#include <shmring/wait.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace shmring::queue {

/// The name of the urgent ring that goes with ring `name`: name + ".urgent".
inline std::string urgent_name(std::string_view name) { return std::string(name) + ".urgent"; }

/// Which ring a message came from.
enum class lane : std::uint8_t { normal, urgent };

/// Both endpoints E (message_producer or message_consumer) of the pair `name`, created (capacity != 0; an
/// urgent_capacity of 0 is capacity) or opened (capacity == 0). The normal ring first.
template <class E>
std::pair<E, E> lane_pair(std::string_view name, std::uint64_t capacity, std::uint64_t urgent_capacity, const options& o) {
  if (capacity == 0) {
    auto n = E::open(name, o);
    return {std::move(n), E::open(urgent_name(name), o)};
  }
  auto n = E::create(name, capacity, o);
  return {std::move(n), E::create(urgent_name(name), urgent_capacity != 0 ? urgent_capacity : capacity, o)};
}

/// Sends urgent messages to one ring and the others to another. One thread uses it.
class urgent_producer {
 public:
  /// Creates both rings (name and urgent_name(name)) and attaches as their producer. urgent_capacity 0: the same
  /// as capacity.
  static urgent_producer create(std::string_view name, std::uint64_t capacity, std::uint64_t urgent_capacity = 0,
                                const options& o = {}) {
    if (capacity == 0) throw error(errc::invalid_argument, name, "a capacity of 0");
    auto p = lane_pair<message_producer>(name, capacity, urgent_capacity, o);
    return urgent_producer(std::move(p.first), std::move(p.second));
  }
  /// Opens both rings (name and urgent_name(name)) as their producer.
  static urgent_producer open(std::string_view name, const options& o = {}) {
    auto p = lane_pair<message_producer>(name, 0, 0, o);
    return urgent_producer(std::move(p.first), std::move(p.second));
  }
  /// Over a pair of producers given explicitly.
  urgent_producer(message_producer normal, message_producer urgent) noexcept
      : normal_(std::move(normal)), urgent_(std::move(urgent)) {}

  /// Producer thread only. The ring this message goes to: urgent when f has message_flags::urgent.
  [[nodiscard]] static lane lane_of(message_flags f) noexcept {
    return has(f, message_flags::urgent) ? lane::urgent : lane::normal;
  }
  /// Producer thread only. As message_producer::try_send, to the ring lane_of(f) says.
  [[nodiscard]] bool try_send(std::span<const std::byte> payload, message_type t = message_type::data,
                              message_flags f = message_flags::none) {
    return of(lane_of(f)).try_send(payload, t, f);
  }
  /// Producer thread only. As message_producer::send, to the ring lane_of(f) says.
  void send(std::span<const std::byte> payload, message_type t = message_type::data,
            message_flags f = message_flags::none) {
    of(lane_of(f)).send(payload, t, f);
  }
  /// Producer thread only. As message_producer::send_for, to the ring lane_of(f) says.
  template <class Rep, class Period>
  [[nodiscard]] bool send_for(std::span<const std::byte> payload, std::chrono::duration<Rep, Period> d,
                              message_type t = message_type::data, message_flags f = message_flags::none) {
    return of(lane_of(f)).send_for(payload, d, t, f);
  }
  /// Producer thread only. Ends both streams (urgent first: the consumer serves it first anyway).
  void close() noexcept {
    urgent_.close();
    normal_.close();
  }
  /// Producer thread only. The endpoint of one lane.
  [[nodiscard]] message_producer& of(lane l) noexcept { return l == lane::urgent ? urgent_ : normal_; }

 private:
  message_producer normal_;
  message_producer urgent_;
};

/// Receives from two rings, the urgent one first (see the file comment for the order). One thread uses it.
class urgent_consumer {
 public:
  /// Creates both rings (name and urgent_name(name)) and attaches as their consumer. urgent_capacity 0: the same
  /// as capacity.
  static urgent_consumer create(std::string_view name, std::uint64_t capacity, std::uint64_t urgent_capacity = 0,
                                const options& o = {}) {
    if (capacity == 0) throw error(errc::invalid_argument, name, "a capacity of 0");
    auto p = lane_pair<message_consumer>(name, capacity, urgent_capacity, o);
    return urgent_consumer(std::move(p.first), std::move(p.second));
  }
  /// Opens both rings (name and urgent_name(name)) as their consumer.
  static urgent_consumer open(std::string_view name, const options& o = {}) {
    auto p = lane_pair<message_consumer>(name, 0, 0, o);
    return urgent_consumer(std::move(p.first), std::move(p.second));
  }
  /// Over a pair of consumers given explicitly.
  urgent_consumer(message_consumer normal, message_consumer urgent)
      : s_(std::make_unique<state>(std::move(normal), std::move(urgent))) {}

  /// Consumer thread only. The next message: the urgent ring's if it holds a whole one, else the normal ring's;
  /// nothing when neither does. Sets last_lane().
  [[nodiscard]] std::optional<message> try_receive() {
    if (auto m = s_->urgent.try_receive()) {
      last_ = lane::urgent;
      return m;
    }
    if (auto m = s_->normal.try_receive()) {
      last_ = lane::normal;
      return m;
    }
    return std::nullopt;
  }

  /// Consumer thread only. As try_receive(), waiting at most d (any duration, saturated) on both rings at once;
  /// nothing on timeout. Throws errc::closed / errc::peer_dead at the end of both streams (file comment),
  /// errc::corrupted if a ring is.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<message> receive_for(std::chrono::duration<Rep, Period> d) {
    return receive_until(detail::deadline_after(d));
  }
  /// Consumer thread only. As receive_for without a timeout.
  message receive() { return *receive_until(std::chrono::steady_clock::time_point::max()); }

  /// Consumer thread only. The lane of the last message received.
  [[nodiscard]] lane last_lane() const noexcept { return last_; }
  /// Consumer thread only. The endpoint of one lane.
  [[nodiscard]] message_consumer& of(lane l) noexcept { return l == lane::urgent ? s_->urgent : s_->normal; }
  /// Consumer thread only. Leaves both rings.
  void close() noexcept {
    s_->urgent.close();
    s_->normal.close();
  }

 private:
  // The poller holds the endpoints' addresses: they live on the heap, so the urgent_consumer itself may move.
  struct state {
    state(message_consumer n, message_consumer u) : normal(std::move(n)), urgent(std::move(u)) {
      poll.add(normal);
      poll.add(urgent);
    }
    message_consumer normal;
    message_consumer urgent;
    poller poll;
  };

  std::optional<message> receive_until(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (auto m = try_receive()) return m;
      for (message_consumer* c : {&s_->urgent, &s_->normal})
        if (c->corrupted()) throw error(errc::corrupted, c->name(), c->corruption());
      const peer_state u = s_->urgent.producer_state(), n = s_->normal.producer_state();
      const bool ended = (u == peer_state::closed || u == peer_state::dead) && (n == peer_state::closed || n == peer_state::dead);
      if (ended) {
        // Their last index store came before the state we read (close and death publish nothing later): look once
        // more, then the streams are over.
        if (auto m = try_receive()) return m;
        if (u == peer_state::dead || n == peer_state::dead)
          throw error(errc::peer_dead, s_->normal.name(), "both producers of the urgent pair ended, one of them by dying");
        throw error(errc::closed, s_->normal.name(), "both producers of the urgent pair closed and both rings are drained");
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::nullopt;
      // Woken by data, or by a producer that closed, detached, died or attached (either ring's descriptor).
      if (deadline == std::chrono::steady_clock::time_point::max())
        (void)s_->poll.wait();
      else
        (void)s_->poll.wait(deadline - now);
    }
  }

  std::unique_ptr<state> s_;
  lane last_ = lane::normal;
};

}  // namespace shmring::queue
