// numpy values <-> element bytes.
#include "values.hpp"

#include <cstring>
#include <string>

namespace py = pybind11;

namespace shmring_py {

py::dtype plain_dtype(const py::object& dtype, const char* what) {
  py::dtype d = py::dtype::from_args(dtype);
  if (d.attr("hasobject").cast<bool>())
    throw py::type_error(std::string("shmring: ") + what + ": the dtype " + py::str(py::handle(d)).cast<std::string>() +
                         " holds Python objects; only plain data can go through shared memory");
  if (d.itemsize() == 0) throw py::type_error(std::string("shmring: ") + what + ": a dtype of size 0");
  return d;
}

py::array one_element(const py::object& value, const py::object& dtype) {
  py::module_ np = py::module_::import("numpy");
  py::object arr = dtype.is_none() ? np.attr("asarray")(value) : np.attr("asarray")(value, plain_dtype(dtype, "value"));
  py::array a = np.attr("ascontiguousarray")(arr);
  if (a.ndim() != 0 && !(a.ndim() == 1 && a.shape(0) == 1))
    throw py::type_error("shmring: expected one value (a scalar or a record), got an array of shape " +
                         py::str(py::object(a.attr("shape"))).cast<std::string>());
  (void)plain_dtype(a.dtype(), "value");
  return a;
}

py::object scalar_of(const py::dtype& dtype, std::span<const std::byte> bytes) {
  py::array a(dtype, std::vector<py::ssize_t>{});
  std::memcpy(a.mutable_data(), bytes.data(), bytes.size());
  return a[py::tuple()];
}

}  // namespace shmring_py
