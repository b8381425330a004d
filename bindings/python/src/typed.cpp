// Producer and Consumer: typed rings whose element is a numpy dtype, over shmring::dynamic_producer /
// dynamic_consumer (the same segment, checks and ring code as producer<T> / consumer<T>). The dtype's itemsize and
// alignment (dtype.alignment) are the element's size and alignment, checked against the segment as a C++ opener's
// are: a structured dtype mirrors a C struct only when made with align=True (np.dtype([...], align=True)), which
// pads it as the C compiler does; without it, it is packed (alignment 1) and a C++ ring of the struct refuses it
// (ElementMismatchError). type_name is the element's identity (C++ shmring_type_name), compared when both give one.
#include "typed.hpp"

#include "async_support.hpp"
#include "errors.hpp"
#include "status.hpp"
#include "values.hpp"
#include "waiting.hpp"

#include <shmring/dynamic.hpp>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

namespace py = pybind11;
using namespace pybind11::literals;

namespace shmring_py {
namespace {

/// The element a dtype describes. type_name must outlive the result (it is a view).
shmring::element_info element_of(const py::dtype& d, const std::optional<std::string>& type_name) {
  if (!d.attr("isnative").cast<bool>())
    throw py::type_error("shmring: the dtype " + py::str(py::handle(d)).cast<std::string>() +
                         " is not in this machine's byte order; a C++ peer would read other values");
  shmring::element_info e{static_cast<std::uint32_t>(d.itemsize()), d.attr("alignment").cast<std::uint32_t>(), {}};
  if (type_name) e.type_name = *type_name;
  return e;
}

template <class Endpoint>
struct py_typed {
  py_typed(Endpoint e, py::dtype d) : name_(e.name()), dtype_(std::move(d)), e_(std::move(e)) {}
  Endpoint& get() {
    if (!e_) raise(shmring::errc::closed, name_, "this endpoint was closed");
    return *e_;
  }
  void close() noexcept {
    if (e_) e_->close();
    e_.reset();
  }
  std::size_t item() const { return static_cast<std::size_t>(dtype_.itemsize()); }

  std::string name_;
  py::dtype dtype_;
  std::optional<Endpoint> e_;
  bool busy_ = false;
};
using py_producer = py_typed<shmring::dynamic_producer>;
using py_consumer = py_typed<shmring::dynamic_consumer>;

/// array as a C-contiguous 1-d array of the ring's dtype (converted if it is not one already).
py::array elements_of(const py_producer& self, const py::object& array) {
  py::module_ np = py::module_::import("numpy");
  py::array a = np.attr("ascontiguousarray")(array, self.dtype_);
  if (a.ndim() != 1) a = a.attr("reshape")(-1);
  return a;
}

void push_value(py_producer& self, const py::object& value) {
  const py::array a = one_element(value, self.dtype_);
  busy_guard busy(self.busy_, self.name_);
  auto& p = self.get();
  const void* v = a.data();
  if (p.try_push(v)) return;
  (void)wait_interruptibly([&](std::chrono::nanoseconds d) { return p.push_for(v, d); }, {});
}

void push_all(py_producer& self, const py::object& array) {
  const py::array a = elements_of(self, array);
  busy_guard busy(self.busy_, self.name_);
  auto& p = self.get();
  const auto* base = static_cast<const std::byte*>(a.data());
  const auto n = static_cast<std::size_t>(a.size());
  const std::size_t item = self.item();
  std::size_t done = p.try_push_n(base, n);
  if (done == n) return;
  // Progress is kept across slices: an interrupted push_n leaves the first `done` elements pushed.
  (void)wait_interruptibly(
      [&](std::chrono::nanoseconds d) {
        if (!p.push_for(base + done * item, d)) return false;
        ++done;
        done += p.try_push_n(base + done * item, n - done);
        return done == n;
      },
      {});
}

/// Pops at least one (waiting as t says) and up to max elements into out; 0 on timeout or (try_only) when empty.
std::size_t pop_into(py_consumer& self, std::byte* out, std::size_t max, std::optional<timeout_arg> t) {
  if (max == 0) return 0;
  busy_guard busy(self.busy_, self.name_);
  auto& c = self.get();
  std::size_t got = c.try_pop_n(out, max);
  if (got != 0 || !t) return got;
  const std::size_t item = self.item();
  (void)wait_interruptibly(
      [&](std::chrono::nanoseconds d) {
        if (!c.pop_for(out, d)) return false;
        got = 1 + c.try_pop_n(out + item, max - 1);
        return true;
      },
      *t);
  return got;
}

py::array popped_array(py_consumer& self, std::size_t max, std::optional<timeout_arg> t) {
  py::array out(self.dtype_, std::vector<py::ssize_t>{static_cast<py::ssize_t>(max)});
  const std::size_t got = pop_into(self, static_cast<std::byte*>(out.mutable_data()), max, t);
  if (got == max) return out;
  return out[py::slice(0, static_cast<py::ssize_t>(got), 1)];
}

/// The options of a typed creator: make_options, and the slot format named by slots ("turn" or "packed").
shmring::options creator_options(bool persistent, const std::string& wait, double open_timeout,
                                 const std::string& slots) {
  shmring::options o = make_options(persistent, true, wait, open_timeout);
  if (slots == "packed")
    o.slot_layout = shmring::slots::packed;
  else if (slots != "turn")
    throw py::value_error("shmring: slots must be \"turn\" or \"packed\", not \"" + slots + "\"");
  return o;
}

template <class Endpoint, class Cls>
void bind_common(Cls& cls) {
  using self_t = py_typed<Endpoint>;
  const char* const open_doc = "Opens the existing ring of elements of dtype (size and alignment checked) and attaches.";
  cls.def_static(
         "create",
         [](const std::string& name, std::uint64_t capacity, const py::object& dtype,
            const std::optional<std::string>& type_name, bool persistent, const std::string& wait, double open_timeout,
            const std::string& slots) {
           const py::dtype d = plain_dtype(dtype, "create");
           return self_t(Endpoint::create(name, element_of(d, type_name), capacity,
                                          creator_options(persistent, wait, open_timeout, slots)),
                         d);
         },
         "name"_a, "capacity"_a, "dtype"_a, py::kw_only(), "type_name"_a = py::none(), "persistent"_a = false,
         "wait"_a = "sleep", "open_timeout"_a = 2.0, "slots"_a = "turn",
         "Creates the ring of capacity (a power of two) elements of dtype and attaches. slots: \"turn\" (a turn "
         "word next to each element that fits a cache line with it) or \"packed\" (elements back to back, for "
         "rings used with push_n / pop_n); openers accept either.")
      .def_static(
          "open",
          [](const std::string& name, const py::object& dtype, const std::optional<std::string>& type_name,
             bool persistent, const std::string& wait, double open_timeout) {
            const py::dtype d = plain_dtype(dtype, "open");
            return self_t(
                Endpoint::open(name, element_of(d, type_name), make_options(persistent, true, wait, open_timeout)), d);
          },
          "name"_a, "dtype"_a, py::kw_only(), "type_name"_a = py::none(), "persistent"_a = false, "wait"_a = "sleep",
          "open_timeout"_a = 2.0, open_doc)
      .def_static(
          "open_or_create",
          [](const std::string& name, std::uint64_t capacity, const py::object& dtype,
             const std::optional<std::string>& type_name, bool persistent, const std::string& wait, double open_timeout,
             const std::string& slots) {
            const py::dtype d = plain_dtype(dtype, "open_or_create");
            return self_t(Endpoint::open_or_create(name, element_of(d, type_name), capacity,
                                                   creator_options(persistent, wait, open_timeout, slots)),
                          d);
          },
          "name"_a, "capacity"_a, "dtype"_a, py::kw_only(), "type_name"_a = py::none(), "persistent"_a = false,
          "wait"_a = "sleep", "open_timeout"_a = 2.0, "slots"_a = "turn",
          "Opens the ring (of either slot format), or creates it with capacity elements of dtype in format slots.")
      .def("close", &self_t::close, "Ends this side for good (a producer ends the stream).")
      .def("status", [](self_t& self) { return status_dict(self.get().status()); })
      .def_property_readonly("name", [](const self_t& self) { return self.name_; })
      .def_property_readonly("dtype", [](const self_t& self) { return self.dtype_; })
      .def_property_readonly("closed", [](const self_t& self) { return !self.e_; })
      .def_property_readonly("capacity", [](self_t& self) { return self.get().capacity(); })
      .def_property_readonly("type_name", [](self_t& self) { return std::string(self.get().element().type_name); })
      .def("__len__", [](self_t& self) { return self.get().size_approx(); })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](self_t& self, py::args) { self.close(); });
  def_descriptor<self_t>(cls);
}

}  // namespace

void bind_typed(py::module_& m) {
  py::class_<py_producer> prod(m, "Producer", "The producing side of a typed ring of numpy dtype elements.");
  bind_common<shmring::dynamic_producer>(prod);
  prod.def("push", &push_value, "value"_a,
           "Pushes one value (a scalar, a record or a tuple for a structured dtype), waiting while the ring is full "
           "(GIL released, Ctrl-C interrupts).")
      .def(
          "try_push",
          [](py_producer& self, const py::object& value) {
            const py::array a = one_element(value, self.dtype_);
            busy_guard busy(self.busy_, self.name_);
            return self.get().try_push(a.data());
          },
          "value"_a, "Pushes one value if there is room: False when full.")
      .def("push_n", &push_all, "array"_a, "Pushes every element of array (converted to the dtype), waiting for room.")
      .def(
          "try_push_n",
          [](py_producer& self, const py::object& array) {
            const py::array a = elements_of(self, array);
            busy_guard busy(self.busy_, self.name_);
            return self.get().try_push_n(a.data(), static_cast<std::size_t>(a.size()));
          },
          "array"_a, "Pushes as many elements of array as fit now; returns how many.")
      .def_property_readonly("pushed", [](py_producer& self) { return self.get().pushed(); })
      .def_property_readonly("consumer_state", [](py_producer& self) {
        return std::string(shmring::to_string(self.get().consumer_state()));
      });

  py::class_<py_consumer> cons(m, "Consumer", "The consuming side of a typed ring of numpy dtype elements.");
  bind_common<shmring::dynamic_consumer>(cons);
  cons.def(
          "pop",
          [](py_consumer& self, std::optional<double> timeout) {
            py::array out(self.dtype_, std::vector<py::ssize_t>{1});
            if (pop_into(self, static_cast<std::byte*>(out.mutable_data()), 1, check_timeout(timeout)) == 0) {
              PyErr_SetString(PyExc_TimeoutError, ("shmring: \"" + self.name_ + "\": no element in time").c_str());
              throw py::error_already_set();
            }
            return py::object(out[py::int_(0)]);
          },
          "timeout"_a = py::none(),
          "The oldest element as a numpy scalar (np.void for records), waiting at most timeout seconds (None: for "
          "ever; TimeoutError after). ClosedError once the producer closed and the ring is empty.")
      .def(
          "try_pop",
          [](py_consumer& self) -> py::object {
            py::array out(self.dtype_, std::vector<py::ssize_t>{1});
            if (pop_into(self, static_cast<std::byte*>(out.mutable_data()), 1, std::nullopt) == 0) return py::none();
            return out[py::int_(0)];
          },
          "The oldest element, or None when the ring is empty.")
      .def(
          "pop_n",
          [](py_consumer& self, std::size_t max_count, std::optional<double> timeout) {
            return popped_array(self, max_count, check_timeout(timeout));
          },
          "max_count"_a, "timeout"_a = py::none(),
          "At least one and up to max_count elements as an ndarray, waiting at most timeout seconds for the first "
          "(None: for ever; an empty array on timeout).")
      .def(
          "try_pop_n", [](py_consumer& self, std::size_t max_count) { return popped_array(self, max_count, std::nullopt); },
          "max_count"_a, "Up to max_count elements now, as an ndarray (empty when the ring is).")
      .def(
          "pop_into",
          [](py_consumer& self, py::array out, std::optional<double> timeout) {
            if (!out.dtype().equal(self.dtype_) || !(out.flags() & py::array::c_style) || !out.writeable())
              throw py::type_error("shmring: pop_into needs a writable C-contiguous array of the ring's dtype");
            return pop_into(self, static_cast<std::byte*>(out.mutable_data()), static_cast<std::size_t>(out.size()),
                            check_timeout(timeout));
          },
          "out"_a, "timeout"_a = py::none(),
          "As pop_n(len(out)), into out (no allocation); returns how many elements it holds now (0 on timeout).")
      .def_property_readonly("popped", [](py_consumer& self) { return self.get().popped(); })
      .def_property_readonly("producer_state", [](py_consumer& self) {
        return std::string(shmring::to_string(self.get().producer_state()));
      });
}

}  // namespace shmring_py
