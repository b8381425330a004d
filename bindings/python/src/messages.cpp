// MessageProducer and MessageConsumer: the C++ message_producer / message_consumer, with the GIL released while
// they wait (in slices, for Ctrl-C: waiting.hpp), one thread at a time (busy_guard), and closed for good by
// close() or the end of a with block.
#include "messages.hpp"

#include "async_support.hpp"
#include "errors.hpp"
#include "status.hpp"
#include "values.hpp"
#include "waiting.hpp"

#include <pybind11/stl.h>

#include <string>

namespace py = pybind11;
using namespace pybind11::literals;

namespace shmring_py {
namespace {

/// A contiguous buffer of any object that has one (bytes, bytearray, memoryview, numpy arrays, mmap...).
class input_bytes {
 public:
  explicit input_bytes(const py::object& o) {
    if (PyUnicode_Check(o.ptr())) throw py::type_error("shmring: send() takes bytes-like data; use send_string() for str");
    if (PyObject_GetBuffer(o.ptr(), &view_, PyBUF_SIMPLE) != 0) throw py::error_already_set();
  }
  input_bytes(const input_bytes&) = delete;
  input_bytes& operator=(const input_bytes&) = delete;
  ~input_bytes() { PyBuffer_Release(&view_); }
  std::span<const std::byte> bytes() const noexcept {
    return {static_cast<const std::byte*>(view_.buf), static_cast<std::size_t>(view_.len)};
  }

 private:
  Py_buffer view_{};
};

shmring::message_type type_arg(std::uint32_t t) { return static_cast<shmring::message_type>(t); }

shmring::message_flags flags_arg(unsigned f) {
  if (f > 0xff) throw py::value_error("shmring: flags is one byte (urgent 1, compressed 2, encrypted 4)");
  return static_cast<shmring::message_flags>(f);
}

void send_bytes(py_message_producer& self, std::span<const std::byte> payload, std::uint32_t type, unsigned flags) {
  busy_guard busy(self.busy_, self.name_);
  shmring::message_producer& p = self.get();
  const auto t = type_arg(type);
  const auto f = flags_arg(flags);
  if (payload.size() <= p.max_record_payload()) {
    if (p.try_send(payload, t, f)) return;
    // One record: a send_for that times out has published nothing, so waiting in slices loses nothing.
    (void)wait_interruptibly([&](std::chrono::nanoseconds d) { return p.send_for(payload, d, t, f); }, {});
    return;
  }
  // Fragmented: a send_for that timed out would give the half-sent message up, so this one waits in one piece
  // (until the consumer has taken the last fragment, closes or dies), without looking at signals meanwhile.
  py::gil_scoped_release nogil;
  p.send(payload, t, f);
}

py_message message_of(const shmring::message_view& v) {
  return {py::bytes(reinterpret_cast<const char*>(v.payload.data()), v.payload.size()),
          static_cast<std::uint32_t>(v.info.type), static_cast<std::uint8_t>(v.info.flags), v.info.sequence,
          v.info.timestamp_ns, v.info.type_tag};
}

/// The next message in place, waiting as t says; nothing on timeout (or at once for try_).
std::optional<shmring::message_view> next_view(py_message_consumer& self, std::optional<timeout_arg> t) {
  shmring::message_consumer& c = self.get();
  if (auto v = c.try_read()) return v;
  if (!t) return std::nullopt;
  std::optional<shmring::message_view> got;
  (void)wait_interruptibly(
      [&](std::chrono::nanoseconds d) {
        got = c.read_for(d);
        return got.has_value();
      },
      *t);
  return got;
}

py::object timeout_error(const std::string& name) {
  return py::module_::import("builtins").attr("TimeoutError")("shmring: \"" + name + "\": no message in time");
}

/// Waits for the next message (None: for ever) and hands it to take, which consumes it (or leaves it held when
/// it throws). Raises TimeoutError on timeout.
template <class Take>
auto receive_with(py_message_consumer& self, std::optional<double> timeout, Take&& take) {
  busy_guard busy(self.busy_, self.name_);
  self.check_not_holding();
  const timeout_arg t = check_timeout(timeout);
  std::optional<shmring::message_view> v = next_view(self, t);
  if (!v) {
    PyErr_SetObject(PyExc_TimeoutError, timeout_error(self.name_).ptr());
    throw py::error_already_set();
  }
  return take(*v);
}

py::object receive_view(py::object self_obj, std::optional<double> timeout, bool try_only) {
  auto& self = self_obj.cast<py_message_consumer&>();
  busy_guard busy(self.busy_, self.name_);
  self.check_not_holding();
  std::optional<shmring::message_view> v;
  if (try_only) {
    v = next_view(self, std::nullopt);
    if (!v) return py::none();
  } else {
    v = next_view(self, check_timeout(timeout));
    if (!v) {
      PyErr_SetObject(PyExc_TimeoutError, timeout_error(self.name_).ptr());
      throw py::error_already_set();
    }
  }
  py::object buffer = make_payload_buffer(self_obj, self, v->payload);
  return py::cast(py_message_view(buffer, v->info));
}

}  // namespace

shmring::message_producer& py_message_producer::get() {
  if (!p_) raise(shmring::errc::closed, name_, "this producer was closed");
  return *p_;
}

shmring::message_consumer& py_message_consumer::get() {
  if (!c_) raise(shmring::errc::closed, name_, "this consumer was closed");
  return *c_;
}

void py_message_consumer::check_not_holding() const {
  if (held_ != nullptr)
    raise(shmring::errc::invalid_argument, name_, "the message read() returned is still held: release() it first");
}

void py_message_consumer::release_held() noexcept {
  held_ = nullptr;
  if (c_) c_->release();
}

void bind_messages(py::module_& m) {
  bind_message_view(m);

  py::class_<py_message>(m, "Message", "A received message (an owning copy).")
      .def_readonly("payload", &py_message::payload)
      .def_readonly("type", &py_message::type)
      .def_readonly("flags", &py_message::flags)
      .def_readonly("sequence", &py_message::sequence)
      .def_readonly("timestamp_ns", &py_message::timestamp_ns)
      .def_readonly("type_tag", &py_message::type_tag)
      .def("__len__", [](const py_message& msg) { return py::len(msg.payload); })
      .def("__repr__", [](const py_message& msg) {
        return "<shmring.Message sequence=" + std::to_string(msg.sequence) + " type=" + std::to_string(msg.type) +
               " flags=" + std::to_string(msg.flags) + " " + std::to_string(py::len(msg.payload)) + " bytes>";
      });

  // ------------------------------------------------------------------------------------------ producer
  py::class_<py_message_producer> prod(m, "MessageProducer",
                                       "The sending side of a message ring (one per ring, one thread at a time).");
  prod.def_static(
          "create",
          [](const std::string& name, std::uint64_t capacity, bool persistent, bool timestamps, const std::string& wait,
             double open_timeout) {
            return py_message_producer(shmring::message_producer::create(
                name, capacity, make_options(persistent, timestamps, wait, open_timeout)));
          },
          "name"_a, "capacity"_a, py::kw_only(), "persistent"_a = false, "timestamps"_a = true, "wait"_a = "sleep",
          "open_timeout"_a = 2.0, "Creates the ring (capacity: data bytes, a power of two) and attaches.")
      .def_static(
          "open",
          [](const std::string& name, bool persistent, bool timestamps, const std::string& wait, double open_timeout) {
            return py_message_producer(
                shmring::message_producer::open(name, make_options(persistent, timestamps, wait, open_timeout)));
          },
          "name"_a, py::kw_only(), "persistent"_a = false, "timestamps"_a = true, "wait"_a = "sleep",
          "open_timeout"_a = 2.0, "Opens an existing ring and attaches.")
      .def_static(
          "open_or_create",
          [](const std::string& name, std::uint64_t capacity, bool persistent, bool timestamps, const std::string& wait,
             double open_timeout) {
            return py_message_producer(shmring::message_producer::open_or_create(
                name, capacity, make_options(persistent, timestamps, wait, open_timeout)));
          },
          "name"_a, "capacity"_a, py::kw_only(), "persistent"_a = false, "timestamps"_a = true, "wait"_a = "sleep",
          "open_timeout"_a = 2.0, "Opens the ring, or creates it with capacity bytes.")
      .def(
          "send",
          [](py_message_producer& self, const py::object& data, std::uint32_t type, unsigned flags) {
            const input_bytes in(data);
            send_bytes(self, in.bytes(), type, flags);
          },
          "data"_a, "type"_a = 1, "flags"_a = 0,
          "Sends any bytes-like object, waiting for room (GIL released; Ctrl-C interrupts a message of one record).")
      .def(
          "try_send",
          [](py_message_producer& self, const py::object& data, std::uint32_t type, unsigned flags) {
            const input_bytes in(data);
            busy_guard busy(self.busy_, self.name_);
            shmring::message_producer& p = self.get();
            if (in.bytes().size() > p.max_try_send())
              raise(shmring::errc::message_too_large, self.name_,
                    std::to_string(in.bytes().size()) + " bytes never fit this ring whole (max_try_send is " +
                        std::to_string(p.max_try_send()) + "): send() streams it");
            return p.try_send(in.bytes(), type_arg(type), flags_arg(flags));
          },
          "data"_a, "type"_a = 1, "flags"_a = 0, "Sends the message if it fits now: False when the ring is full.")
      .def(
          "send_string",
          [](py_message_producer& self, const std::string& s, std::uint32_t type, unsigned flags) {
            send_bytes(self, shmring::text_bytes(s), type, flags);
          },
          "text"_a, "type"_a = 1, "flags"_a = 0, "Sends the UTF-8 bytes of a str.")
      .def(
          "send_typed",
          [](py_message_producer& self, const py::object& value, const py::object& dtype, std::uint32_t type,
             unsigned flags) {
            const py::array a = one_element(value, dtype);
            send_bytes(self, {static_cast<const std::byte*>(a.data()), static_cast<std::size_t>(a.itemsize())}, type,
                       flags);
          },
          "value"_a, "dtype"_a = py::none(), "type"_a = 1, "flags"_a = 0,
          "Sends the bytes of one numpy scalar or record (BitRPC's send_typed).")
      .def("close", &py_message_producer::close, "Ends the stream: the consumer gets what was sent, then ClosedError.")
      .def("dispose", &py_message_producer::close, "BitRPC's name for close().")
      .def("status", [](py_message_producer& self) { return status_dict(self.get().status()); })
      .def_property_readonly("name", [](const py_message_producer& self) { return self.name_; })
      .def_property_readonly("closed", [](const py_message_producer& self) { return !self.p_; })
      .def_property_readonly("capacity", [](py_message_producer& self) { return self.get().capacity(); })
      .def_property_readonly("max_try_send", [](py_message_producer& self) { return self.get().max_try_send(); })
      .def_property_readonly("next_sequence", [](py_message_producer& self) { return self.get().next_sequence(); })
      .def_property_readonly("sent", [](py_message_producer& self) { return self.get().sent(); })
      .def_property_readonly("consumer_state", [](py_message_producer& self) {
        return std::string(shmring::to_string(self.get().consumer_state()));
      })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](py_message_producer& self, py::args) { self.close(); });
  def_descriptor<py_message_producer>(prod);

  // ------------------------------------------------------------------------------------------ consumer
  py::class_<py_message_consumer> cons(m, "MessageConsumer",
                                       "The receiving side of a message ring (one per ring, one thread at a time).");
  cons.def_static(
          "create",
          [](const std::string& name, std::uint64_t capacity, bool persistent, const std::string& wait,
             double open_timeout) {
            return py_message_consumer(shmring::message_consumer::create(
                name, capacity, make_options(persistent, true, wait, open_timeout)));
          },
          "name"_a, "capacity"_a, py::kw_only(), "persistent"_a = false, "wait"_a = "sleep", "open_timeout"_a = 2.0,
          "Creates the ring (capacity: data bytes, a power of two) and attaches.")
      .def_static(
          "open",
          [](const std::string& name, bool persistent, const std::string& wait, double open_timeout) {
            return py_message_consumer(
                shmring::message_consumer::open(name, make_options(persistent, true, wait, open_timeout)));
          },
          "name"_a, py::kw_only(), "persistent"_a = false, "wait"_a = "sleep", "open_timeout"_a = 2.0,
          "Opens an existing ring and attaches.")
      .def_static(
          "open_or_create",
          [](const std::string& name, std::uint64_t capacity, bool persistent, const std::string& wait,
             double open_timeout) {
            return py_message_consumer(shmring::message_consumer::open_or_create(
                name, capacity, make_options(persistent, true, wait, open_timeout)));
          },
          "name"_a, "capacity"_a, py::kw_only(), "persistent"_a = false, "wait"_a = "sleep", "open_timeout"_a = 2.0,
          "Opens the ring, or creates it with capacity bytes.")
      .def(
          "receive",
          [](py_message_consumer& self, std::optional<double> timeout) {
            return receive_with(self, timeout, [&](const shmring::message_view& v) {
              py_message msg = message_of(v);
              self.get().release();
              return msg;
            });
          },
          "timeout"_a = py::none(),
          "The next message (a copy), waiting at most timeout seconds (None: for ever; TimeoutError after). The GIL "
          "is released and Ctrl-C interrupts. ClosedError once the producer closed and everything was received.")
      .def(
          "try_receive",
          [](py_message_consumer& self) -> std::optional<py_message> {
            busy_guard busy(self.busy_, self.name_);
            self.check_not_holding();
            auto v = next_view(self, std::nullopt);
            if (!v) return std::nullopt;
            py_message msg = message_of(*v);
            self.get().release();
            return msg;
          },
          "The next message, or None when none is complete.")
      .def(
          "receive_string",
          [](py_message_consumer& self, std::optional<double> timeout) {
            return receive_with(self, timeout, [&](const shmring::message_view& v) {
              // Decoded before it is consumed: a payload that is not UTF-8 raises and stays for receive().
              py::str s = py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
                  reinterpret_cast<const char*>(v.payload.data()), static_cast<Py_ssize_t>(v.payload.size()), "strict"));
              if (!s) throw py::error_already_set();
              self.get().release();
              return s;
            });
          },
          "timeout"_a = py::none(), "The next message's payload as a str (UTF-8), waiting as receive() does.")
      .def(
          "receive_typed",
          [](py_message_consumer& self, const py::object& dtype, std::optional<double> timeout) {
            const py::dtype d = plain_dtype(dtype, "receive_typed");
            return receive_with(self, timeout, [&](const shmring::message_view& v) {
              if (v.payload.size() != static_cast<std::size_t>(d.itemsize()))
                raise(shmring::errc::type_mismatch, self.name_,
                      "the next message has " + std::to_string(v.payload.size()) + " payload bytes, the dtype " +
                          std::to_string(d.itemsize()) + "; it stays in the ring");
              py::object value = scalar_of(d, v.payload);
              self.get().release();
              return value;
            });
          },
          "dtype"_a, "timeout"_a = py::none(),
          "The next message as one value of dtype (a numpy scalar or record; BitRPC's receive_typed). A payload of "
          "another size raises TypeMismatchError and stays in the ring.")
      .def(
          "read",
          [](py::object self, std::optional<double> timeout) { return receive_view(std::move(self), timeout, false); },
          "timeout"_a = py::none(),
          "The next message in place (zero copy): a MessageView, valid until its release() or the end of its with "
          "block. Waits as receive() does.")
      .def(
          "try_read", [](py::object self) { return receive_view(std::move(self), std::nullopt, true); },
          "As read(), or None when no message is complete.")
      .def(
          "close",
          [](py_message_consumer& self) {
            if (self.held_ != nullptr) release_payload_buffer(py::reinterpret_borrow<py::object>(self.held_), false);
            if (self.c_) self.c_->close();
            self.c_.reset();
          },
          "Leaves the ring for good (a held read() message is released first).")
      .def("dispose", [](py::object self) { self.attr("close")(); }, "BitRPC's name for close().")
      .def("status", [](py_message_consumer& self) { return status_dict(self.get().status()); })
      .def_property_readonly("name", [](const py_message_consumer& self) { return self.name_; })
      .def_property_readonly("closed", [](const py_message_consumer& self) { return !self.c_; })
      .def_property_readonly("capacity", [](py_message_consumer& self) { return self.get().capacity(); })
      .def_property_readonly("received", [](py_message_consumer& self) { return self.get().received(); })
      .def_property_readonly("dropped", [](py_message_consumer& self) { return self.get().dropped(); })
      .def_property_readonly("producer_state", [](py_message_consumer& self) {
        return std::string(shmring::to_string(self.get().producer_state()));
      })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](py::object self, py::args) { self.attr("close")(); });
  def_descriptor<py_message_consumer>(cons);
}

}  // namespace shmring_py
