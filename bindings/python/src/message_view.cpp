// Zero-copy reads. MessageConsumer.read() returns a MessageView whose `payload` is a read-only memoryview of the
// ring's memory. That memory is reused once the message is released, so nothing may keep reading it afterwards:
// the memoryview is over a small exporter object (the payload buffer, below) that counts the buffers taken from
// it. release() releases the memoryview (any later use of it raises ValueError) and frees the message only when
// no other buffer taken from it is left (a slice of the memoryview, np.frombuffer(...)): otherwise it raises
// BufferError and keeps the message. A MessageView dropped without release() frees its message once its last
// buffer is gone. The payload buffer holds the consumer object, so the mapping outlives every buffer.
#include "messages.hpp"

#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace shmring_py {
namespace {

struct payload_buffer {
  PyObject_HEAD
  const std::byte* data;
  Py_ssize_t size;
  Py_ssize_t exports;  // buffers taken from this object and not released yet
  bool held;           // the consumer still holds the message (data is valid)
  bool pending;        // free the message when exports drops to 0
  PyObject* owner;     // the MessageConsumer object (strong reference)
  py_message_consumer* consumer;
  PyObject* view_ref;  // a weak reference to the MessageView's memoryview of this (strong), or null
};

void free_message(payload_buffer* b) noexcept {
  if (!b->held) return;
  b->held = false;
  b->pending = false;
  b->consumer->release_held();
}

int pb_getbuffer(PyObject* self, Py_buffer* view, int flags) {
  auto* b = reinterpret_cast<payload_buffer*>(self);
  if (!b->held) {
    view->obj = nullptr;
    PyErr_SetString(PyExc_ValueError, "shmring: the message was released: its payload is no longer readable");
    return -1;
  }
  if (PyBuffer_FillInfo(view, self, const_cast<std::byte*>(b->data), b->size, /*readonly=*/1, flags) != 0) return -1;
  ++b->exports;
  return 0;
}

void pb_releasebuffer(PyObject* self, Py_buffer*) {
  auto* b = reinterpret_cast<payload_buffer*>(self);
  --b->exports;
  if (b->exports == 0 && b->pending) free_message(b);
}

void pb_dealloc(PyObject* self) {
  auto* b = reinterpret_cast<payload_buffer*>(self);
  free_message(b);  // no buffer can be left: each one holds a reference to this object
  Py_XDECREF(b->owner);
  Py_XDECREF(b->view_ref);
  PyTypeObject* tp = Py_TYPE(self);
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyType_Slot pb_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(&pb_dealloc)},
    {Py_bf_getbuffer, reinterpret_cast<void*>(&pb_getbuffer)},
    {Py_bf_releasebuffer, reinterpret_cast<void*>(&pb_releasebuffer)},
    {Py_tp_doc, const_cast<char*>("The payload of a message read in place (see MessageView).")},
    {0, nullptr},
};
PyType_Spec pb_spec = {"shmring._PayloadBuffer", sizeof(payload_buffer), 0, Py_TPFLAGS_DEFAULT, pb_slots};
PyTypeObject* pb_type = nullptr;

payload_buffer* as_buffer(const py::object& o) { return reinterpret_cast<payload_buffer*>(o.ptr()); }

}  // namespace

py::object make_payload_buffer(py::object owner, py_message_consumer& c, std::span<const std::byte> p) {
  PyObject* o = PyType_GenericAlloc(pb_type, 0);
  if (o == nullptr) throw py::error_already_set();
  auto* b = reinterpret_cast<payload_buffer*>(o);
  b->data = p.data();
  b->size = static_cast<Py_ssize_t>(p.size());
  b->exports = 0;
  b->held = true;
  b->pending = false;
  b->owner = owner.release().ptr();
  b->consumer = &c;
  b->view_ref = nullptr;
  c.held_ = o;
  return py::reinterpret_steal<py::object>(o);
}

void release_payload_buffer(const py::object& buffer, bool defer) {
  payload_buffer* b = as_buffer(buffer);
  if (!b->held) return;
  if (!defer && b->view_ref != nullptr) {
    // The memoryview first: it raises BufferError while something was made from it with the buffer protocol.
    py::object mv = py::reinterpret_borrow<py::object>(PyWeakref_GetObject(b->view_ref));
    if (!mv.is_none()) {
      try {
        mv.attr("release")();
      } catch (py::error_already_set& e) {
        if (!e.matches(PyExc_BufferError)) throw;
        throw py::buffer_error("shmring: the message's payload is still in use (an array or another object made "
                               "from the memoryview): drop it first; the message is kept until then");
      }
    }
  }
  if (b->exports == 0) {
    free_message(b);
  } else if (defer) {
    b->pending = true;
  } else {
    throw py::buffer_error("shmring: the message's payload is still in use (a slice of the memoryview, or an array "
                           "made from it): drop those first; the message is kept until then");
  }
}

bool payload_buffer_held(const py::object& buffer) { return as_buffer(buffer)->held; }

py_message_view::py_message_view(py::object b, shmring::message_info i)
    : buffer(std::move(b)), payload(py::memoryview(buffer)), info(i) {
  PyObject* ref = PyWeakref_NewRef(payload.ptr(), nullptr);
  if (ref == nullptr) throw py::error_already_set();
  as_buffer(buffer)->view_ref = ref;
}

py_message_view::~py_message_view() {
  // Members go after this body, payload before buffer: the memoryview's release then frees a pending message.
  if (buffer) release_payload_buffer(buffer, true);
}

void bind_message_view(py::module_& m) {
  pb_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&pb_spec));
  if (pb_type == nullptr) throw py::error_already_set();
  m.add_object("_PayloadBuffer", py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(pb_type)));

  auto release = [](py_message_view& v) { release_payload_buffer(v.buffer, false); };
  py::class_<py_message_view>(m, "MessageView",
                              "A message read in place by MessageConsumer.read(): `payload` is a read-only "
                              "memoryview of the ring, valid until release() or the end of a with block.")
      .def_property_readonly("payload",
                             [](const py_message_view& v) {
                               if (!payload_buffer_held(v.buffer))
                                 throw py::value_error("shmring: the message was released: its payload is gone");
                               return v.payload;
                             })
      .def_property_readonly("type", [](const py_message_view& v) { return static_cast<std::uint32_t>(v.info.type); })
      .def_property_readonly("flags", [](const py_message_view& v) { return static_cast<std::uint8_t>(v.info.flags); })
      .def_property_readonly("sequence", [](const py_message_view& v) { return v.info.sequence; })
      .def_property_readonly("timestamp_ns", [](const py_message_view& v) { return v.info.timestamp_ns; })
      .def_property_readonly("type_tag", [](const py_message_view& v) { return v.info.type_tag; })
      .def_property_readonly("released", [](const py_message_view& v) { return !payload_buffer_held(v.buffer); })
      .def("__len__", [](const py_message_view& v) { return v.info.length; })
      .def("release", release, "Frees the message in the ring; the payload memoryview is unusable afterwards.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [release](py_message_view& v, py::args) { release(v); });
}

}  // namespace shmring_py
