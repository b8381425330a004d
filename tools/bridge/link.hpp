// shmring-bridge: the ZeroMQ side. A context and socket with RAII, the socket options the bridge sets (high-water
// marks, the largest frame accepted, CURVE keys, linger), and a monitor that counts connections and refused
// handshakes.
// May touch: ZeroMQ sockets it creates.
#pragma once

#include <zmq.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmring_bridge {

struct zmq_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_zmq(const std::string& what) {
  throw zmq_failure(what + ": " + zmq_strerror(zmq_errno()));
}

class zmq_context {
 public:
  zmq_context() : ctx_(zmq_ctx_new()) {
    if (ctx_ == nullptr) throw_zmq("zmq_ctx_new");
    zmq_ctx_set(ctx_, ZMQ_IO_THREADS, 1);
  }
  zmq_context(const zmq_context&) = delete;
  zmq_context& operator=(const zmq_context&) = delete;
  ~zmq_context() { zmq_ctx_term(ctx_); }
  [[nodiscard]] void* get() const noexcept { return ctx_; }

 private:
  void* ctx_;
};

class zmq_socket {
 public:
  zmq_socket(zmq_context& c, int type) : s_(::zmq_socket(c.get(), type)) {
    if (s_ == nullptr) throw_zmq("zmq_socket");
    set_int(ZMQ_LINGER, 0);  // a stopping bridge drops what it had queued: the protocol resends it
  }
  zmq_socket(const zmq_socket&) = delete;
  zmq_socket& operator=(const zmq_socket&) = delete;
  ~zmq_socket() { zmq_close(s_); }
  [[nodiscard]] void* get() const noexcept { return s_; }

  void set_int(int opt, int v) {
    if (zmq_setsockopt(s_, opt, &v, sizeof v) != 0) throw_zmq("zmq_setsockopt " + std::to_string(opt));
  }
  void set_i64(int opt, std::int64_t v) {
    if (zmq_setsockopt(s_, opt, &v, sizeof v) != 0) throw_zmq("zmq_setsockopt " + std::to_string(opt));
  }
  void set_str(int opt, const std::string& v) {
    if (zmq_setsockopt(s_, opt, v.data(), v.size()) != 0) throw_zmq("zmq_setsockopt " + std::to_string(opt));
  }
  /// False on EAGAIN (a high-water mark reached) or EINTR; throws otherwise.
  bool send(std::span<const std::byte> b, int flags) {
    if (zmq_send(s_, b.data(), b.size(), flags) >= 0) return true;
    if (zmq_errno() == EAGAIN || zmq_errno() == EINTR || zmq_errno() == EHOSTUNREACH) return false;
    throw_zmq("zmq_send");
  }

 private:
  void* s_;
};

/// One received frame (a zmq_msg_t), closed by the destructor.
class zmq_frame {
 public:
  zmq_frame() { zmq_msg_init(&m_); }
  zmq_frame(const zmq_frame&) = delete;
  zmq_frame& operator=(const zmq_frame&) = delete;
  ~zmq_frame() { zmq_msg_close(&m_); }
  /// False when nothing is waiting (or EINTR).
  bool recv(zmq_socket& s) {
    if (zmq_msg_recv(&m_, s.get(), ZMQ_DONTWAIT) >= 0) return true;
    if (zmq_errno() == EAGAIN || zmq_errno() == EINTR) return false;
    throw_zmq("zmq_msg_recv");
  }
  [[nodiscard]] bool more() noexcept { return zmq_msg_more(&m_) != 0; }
  [[nodiscard]] std::span<const std::byte> bytes() noexcept {
    return {static_cast<const std::byte*>(zmq_msg_data(&m_)), zmq_msg_size(&m_)};
  }

 private:
  zmq_msg_t m_;
};

/// CURVE keys as Z85 text (40 characters); see `shmring-bridge keygen`.
struct curve_keys {
  std::string server_public, secret, public_key;
  [[nodiscard]] bool any() const noexcept { return !server_public.empty() || !secret.empty() || !public_key.empty(); }
};

/// Counts a socket's connection events (zmq_socket_monitor over inproc PAIR).
class link_monitor {
 public:
  link_monitor(zmq_context& c, zmq_socket& watched, const std::string& name) : pair_(c, ZMQ_PAIR) {
    const std::string ep = "inproc://monitor-" + name;
    if (zmq_socket_monitor(watched.get(), ep.c_str(),
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
      throw_zmq("zmq_socket_monitor");
    if (zmq_connect(pair_.get(), ep.c_str()) != 0) throw_zmq("monitor connect");
  }
  [[nodiscard]] void* socket() const noexcept { return pair_.get(); }

  /// Reads every pending event; true if a handshake succeeded among them (a new or renewed connection).
  bool drain() {
    bool up = false;
    for (;;) {
      zmq_frame ev;
      if (!ev.recv(pair_)) return up;
      const auto b = ev.bytes();
      std::uint16_t id = 0;
      if (b.size() >= 2) std::memcpy(&id, b.data(), 2);
      while (ev.more()) {  // the endpoint part
        zmq_frame rest;
        if (!rest.recv(pair_)) break;
        if (!rest.more()) break;
      }
      switch (id) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
          ++handshakes;
          up = true;
          break;
        case ZMQ_EVENT_DISCONNECTED: ++disconnects; break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: ++refused; break;
        default: break;
      }
    }
  }

  std::uint64_t handshakes = 0, disconnects = 0, refused = 0;

 private:
  zmq_socket pair_;
};

}  // namespace shmring_bridge
