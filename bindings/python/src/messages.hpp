// The message-ring endpoints as Python classes: MessageProducer, MessageConsumer, Message, and the zero-copy
// MessageView that MessageConsumer.read() returns (message_view.cpp).
#pragma once

#include <shmring/message.hpp>

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace shmring_py {

/// shmring.Message: an owning copy of a received message.
struct py_message {
  pybind11::bytes payload;
  std::uint32_t type = 1;
  std::uint8_t flags = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint16_t type_tag = 0;
};

class py_message_producer {
 public:
  explicit py_message_producer(shmring::message_producer p) : name_(p.name()), p_(std::move(p)) {}
  /// The endpoint, or errc::closed once close() was called.
  shmring::message_producer& get();
  /// Ends the stream (message_producer::close) and drops the endpoint.
  void close() noexcept {
    if (p_) p_->close();
    p_.reset();
  }

  std::string name_;
  std::optional<shmring::message_producer> p_;
  bool busy_ = false;  // see busy_guard
};

class py_message_consumer {
 public:
  explicit py_message_consumer(shmring::message_consumer c) : name_(c.name()), c_(std::move(c)) {}
  shmring::message_consumer& get();
  /// Refuses (errc::invalid_argument) while the message read() returned is held.
  void check_not_holding() const;
  /// Frees the held message (called by its payload buffer once nothing uses it).
  void release_held() noexcept;

  std::string name_;
  std::optional<shmring::message_consumer> c_;
  bool busy_ = false;
  PyObject* held_ = nullptr;  // the payload buffer of the message read() returned (borrowed), until freed
};

/// What MessageConsumer.read() returns: the message in place.
struct py_message_view {
  /// The view of the message whose payload buffer is b (its memoryview is made here).
  py_message_view(pybind11::object b, shmring::message_info i);
  py_message_view(const py_message_view&) = delete;
  py_message_view& operator=(const py_message_view&) = delete;
  py_message_view(py_message_view&&) = default;
  /// Dropped without release(): the message is freed once the last buffer taken from it is gone.
  ~py_message_view();

  pybind11::object buffer;   // the payload buffer (message_view.cpp); it keeps the consumer alive
  pybind11::object payload;  // a read-only memoryview of buffer
  shmring::message_info info;
};

/// A payload buffer over p, held for the consumer object owner (a MessageConsumer) until released.
pybind11::object make_payload_buffer(pybind11::object owner, py_message_consumer& c, std::span<const std::byte> p);
/// Releases the buffer's memoryview (the MessageView's payload) and frees the message now, or (defer) once the
/// last buffer exported from it is released. Without defer, raises BufferError while a buffer made from it (a
/// slice, an array) is still in use, and keeps the message.
void release_payload_buffer(const pybind11::object& buffer, bool defer);
/// Whether the buffer is still held.
bool payload_buffer_held(const pybind11::object& buffer);

void bind_message_view(pybind11::module_& m);
void bind_messages(pybind11::module_& m);

}  // namespace shmring_py
