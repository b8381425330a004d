// shmring: Boost.Asio integration (optional: include it only where Boost.Asio, Debian's libboost-dev, is available).
// shmring::asio::async_endpoint wraps a producer<T>, consumer<T>, message_producer or message_consumer for one
// io_context: async_pop / async_receive / async_push / async_send take any completion token (a callback,
// boost::asio::use_future, boost::asio::use_awaitable in a C++20 coroutine) and wait on the endpoint's event
// descriptor (native_handle(), docs/events.md) through the io_context's reactor: no thread blocks.
// May touch: the endpoint it wraps (try_ calls, arm(), peer state) and a duplicate of its descriptor.
//
// Completion: a value (pop, receive) or nothing (push, send), with an error_code:
//   - boost::asio::error::eof: the producer closed the stream and everything it sent was received (a consumer);
//   - boost::asio::error::operation_aborted: cancel() was called while the operation waited;
//   - shmring::asio::category() codes (shmring::errc): closed (a producer whose consumer closed its side),
//     peer_dead (the peer died while this side waited), corrupted, message_too_large (async_send of a message
//     over max_try_send(): send it with the blocking send()).
// Cancellation is per operation: at most one operation is pending on an async_endpoint (one thread uses an
// endpoint), and cancel() completes that one. Debian's Boost 1.74 predates Asio's cancellation slots (1.77), so
// the slot of a bound token is not consulted; cancel() is what a timer or a parallel_group's loser calls.
#pragma once

#include <shmring/error.hpp>
#include <shmring/message.hpp>
#include <shmring/typed.hpp>

#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

#include <cerrno>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

namespace shmring::asio {

/// The error category of shmring::errc values in an error_code.
inline const boost::system::error_category& category() noexcept {
  struct cat final : boost::system::error_category {
    const char* name() const noexcept override { return "shmring"; }
    std::string message(int v) const override { return std::string(to_string(static_cast<errc>(v))); }
  };
  static const cat c;
  return c;
}
/// e as an error_code of category().
inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

namespace detail {

template <class E>
concept message_consumer_endpoint = std::is_same_v<E, message_consumer>;
template <class E>
concept message_producer_endpoint = std::is_same_v<E, message_producer>;
template <class E>
concept typed_consumer_endpoint = requires { typename E::value_type; E::slot_layout; } &&
                                  std::is_same_v<E, consumer<typename E::value_type, E::slot_layout>>;
template <class E>
concept typed_producer_endpoint = requires { typename E::value_type; E::slot_layout; } &&
                                  std::is_same_v<E, producer<typename E::value_type, E::slot_layout>>;
/// A value a producer<T> endpoint E pushes.
template <class E, class V>
concept pushable_by = typed_producer_endpoint<E> && std::is_same_v<std::remove_cvref_t<V>, typename E::value_type>;

}  // namespace detail

/// An endpoint driven by an io_context. The endpoint must outlive the wrapper; the wrapper may not be moved while
/// an operation is pending. Construct it on the thread that uses the endpoint (the io_context's thread).
template <class Endpoint>
class async_endpoint {
 public:
  using executor_type = boost::asio::posix::stream_descriptor::executor_type;

  /// Wraps e for ex (an io_context's executor, or an io_context). Throws as native_handle() does, and
  /// errc::system_error if the descriptor cannot be duplicated.
  template <class ExecutionContextOrExecutor>
  async_endpoint(ExecutionContextOrExecutor&& ex, Endpoint& e) : ep_(&e), sd_(std::forward<ExecutionContextOrExecutor>(ex)) {
    const int fd = ::dup(e.native_handle());  // the descriptor stays the endpoint's; Asio owns (and closes) this copy
    if (fd < 0) throw error(errc::system_error, e.name(), "dup of the event descriptor failed", errno);
    sd_.assign(fd);
  }

  [[nodiscard]] Endpoint& endpoint() noexcept { return *ep_; }
  [[nodiscard]] executor_type get_executor() noexcept { return sd_.get_executor(); }
  /// Completes the pending operation with operation_aborted, or the next one started if none is pending (a
  /// coroutine between two operations is stopped at its next one). Call it on the io_context's thread.
  void cancel() {
    cancel_ = true;
    sd_.cancel();
  }

  /// Any endpoint: completes (void(error_code)) once the endpoint may have something to do, for a caller that then
  /// drains it with try_ calls itself: one completion per burst instead of one per element, the fast way to consume
  /// a busy ring (bench: events/consumer/asio_wait). Spurious completions are possible (the try_ calls then find
  /// nothing: wait again); the peer's state (closed, dead) is for the caller to ask.
  template <class Token>
  auto async_wait(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(wait_op{this}, token, sd_);
  }

  /// consumer<T>: the oldest element. Signature void(error_code, T).
  template <class Token>
    requires detail::typed_consumer_endpoint<Endpoint>
  auto async_pop(Token&& token) {
    using T = typename Endpoint::value_type;
    return start<void(boost::system::error_code, T)>(
        [](Endpoint& c, T& out) { return c.try_pop(out); }, T{}, std::forward<Token>(token));
  }
  /// message_consumer: the next message. Signature void(error_code, shmring::message).
  template <class Token>
    requires detail::message_consumer_endpoint<Endpoint>
  auto async_receive(Token&& token) {
    return start<void(boost::system::error_code, message)>(
        [](Endpoint& c, message& out) {
          if (auto m = c.try_receive()) {
            out = std::move(*m);
            return true;
          }
          return false;
        },
        message{}, std::forward<Token>(token));
  }
  /// producer<T>: pushes v (copied into the operation), waiting for room. Signature void(error_code).
  template <class V, class Token>
    requires detail::pushable_by<Endpoint, V>
  auto async_push(V&& v, Token&& token) {
    return start<void(boost::system::error_code)>([v](Endpoint& p, none&) { return p.try_push(v); }, none{},
                                                  std::forward<Token>(token));
  }
  /// message_producer: sends payload (copied into the operation) as one message of type t, waiting for room.
  /// Signature void(error_code); message_too_large for a payload over max_try_send().
  template <class Token>
    requires detail::message_producer_endpoint<Endpoint>
  auto async_send(std::span<const std::byte> payload, Token&& token, message_type t = message_type::data) {
    const boost::system::error_code refused =
        payload.size() > ep_->max_try_send() ? make_error_code(errc::message_too_large) : boost::system::error_code{};
    return start<void(boost::system::error_code)>(
        [body = std::vector<std::byte>(payload.begin(), payload.end()), t](Endpoint& p, none&) { return p.try_send(body, t); },
        none{}, std::forward<Token>(token), refused);
  }

 private:
  struct none {};

  // What a failed attempt means once the ring had nothing for it: keep waiting (no error), or end. The peer's
  // state is a system call: asked only when arm() found something (an event) and the attempt still failed.
  boost::system::error_code verdict() const {
    if (ep_->corrupted()) return make_error_code(errc::corrupted);
    constexpr bool consuming = detail::typed_consumer_endpoint<Endpoint> || detail::message_consumer_endpoint<Endpoint>;
    peer_state s;
    if constexpr (consuming)
      s = ep_->producer_state();
    else
      s = ep_->consumer_state();
    if (s == peer_state::dead) return make_error_code(errc::peer_dead);
    if (s == peer_state::closed) {
      if constexpr (consuming)
        return boost::asio::error::eof;
      else
        return make_error_code(errc::closed);
    }
    return {};
  }

  template <class Attempt, class Result>
  struct op {
    async_endpoint* self;
    Attempt attempt;
    Result result;
    boost::system::error_code refused;  // an error known before starting (message_too_large)
    enum class phase { start, run } at = phase::start;

    template <class Self>
    void operator()(Self& s, boost::system::error_code ec = {}) {
      if (at == phase::start) {  // never complete inside the initiating call: come back through the executor
        at = phase::run;
        boost::asio::post(self->sd_.get_executor(), std::move(s));
        return;
      }
      if (refused) return finish(s, refused);
      if (self->cancel_) {  // cancel() came while this operation was posted, or before it started
        self->cancel_ = false;
        return finish(s, boost::asio::error::operation_aborted);
      }
      if (ec) return finish(s, ec);
      for (;;) {
        if (attempt(*self->ep_, result)) return finish(s, {});
        // Drained and nothing: arm, and either wait (true) or look again (something happened meanwhile).
        if (self->ep_->arm()) {
          self->sd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, std::move(s));
          return;
        }
        if (const auto v = self->verdict(); v) {
          if (attempt(*self->ep_, result)) return finish(s, {});  // it published before it left
          return finish(s, v);
        }
      }
    }

    template <class Self>
    void finish(Self& s, boost::system::error_code ec) {
      if constexpr (std::is_same_v<Result, none>)
        s.complete(ec);
      else
        s.complete(ec, std::move(result));
    }
  };

  struct wait_op {
    async_endpoint* self;
    enum class phase { start, run, woken } at = phase::start;

    template <class Self>
    void operator()(Self& s, boost::system::error_code ec = {}) {
      if (at == phase::start) {  // never complete inside the initiating call
        at = phase::run;
        boost::asio::post(self->sd_.get_executor(), std::move(s));
        return;
      }
      if (self->cancel_) {
        self->cancel_ = false;
        return s.complete(boost::asio::error::operation_aborted);
      }
      if (ec || at == phase::woken || !self->ep_->arm()) return s.complete(ec);
      at = phase::woken;
      self->sd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, std::move(s));
    }
  };

  template <class Signature, class Attempt, class Result, class Token>
  auto start(Attempt&& a, Result r, Token&& token, boost::system::error_code refused = {}) {
    return boost::asio::async_compose<Token, Signature>(
        op<std::decay_t<Attempt>, Result>{this, std::forward<Attempt>(a), std::move(r), refused}, token, sd_);
  }

  Endpoint* ep_;
  boost::asio::posix::stream_descriptor sd_;
  bool cancel_ = false;  // cancel() was called and no operation has been aborted by it yet
};

}  // namespace shmring::asio
