// shmring.Error and its subclasses. Each subclass is named after its errc in CamelCase with "Error" appended
// (errc::peer_dead: shmring.PeerDeadError) and carries the errc name as the class attribute `code`, so callers
// (errc::system_error: shmring.SystemCallError) may catch one kind or compare `e.code == "peer_dead"`.
#include "errors.hpp"

#include <array>
#include <cctype>
#include <string>

namespace py = pybind11;

namespace shmring_py {
namespace {

constexpr int last_code = static_cast<int>(shmring::last_errc);
// Owned by the module for the life of the interpreter (module attributes hold them too).
PyObject* base_error = nullptr;
std::array<PyObject*, last_code + 1> error_classes{};

std::string class_name(std::string_view code) {
  if (code == "system_error") return "SystemCallError";  // not "SystemErrorError", nor Python's SystemError
  std::string out;
  bool upper = true;
  for (const char ch : code) {
    if (ch == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch);
    upper = false;
  }
  return out + "Error";
}

PyObject* class_for(shmring::errc code) {
  const int i = static_cast<int>(code);
  if (i > 0 && i <= last_code && error_classes[static_cast<std::size_t>(i)] != nullptr)
    return error_classes[static_cast<std::size_t>(i)];
  return base_error;
}

}  // namespace

void bind_errors(py::module_& m) {
  py::dict base_attrs;
  base_attrs["code"] = py::none();
  base_attrs["__doc__"] = "Every error shmring raises; `code` is the errc name (\"not_found\", \"peer_dead\", ...).";
  base_error = PyErr_NewException("shmring.Error", PyExc_Exception, base_attrs.ptr());
  if (base_error == nullptr) throw py::error_already_set();
  m.add_object("Error", py::reinterpret_borrow<py::object>(base_error));
  for (int i = 1; i <= last_code; ++i) {
    const auto code = static_cast<shmring::errc>(i);
    const std::string_view code_name = shmring::to_string(code);
    const std::string name = class_name(code_name);
    py::dict attrs;
    attrs["code"] = py::str(code_name.data(), code_name.size());
    attrs["__doc__"] = "shmring errc::" + std::string(code_name);
    PyObject* cls = PyErr_NewException(("shmring." + name).c_str(), base_error, attrs.ptr());
    if (cls == nullptr) throw py::error_already_set();
    error_classes[static_cast<std::size_t>(i)] = cls;
    m.add_object(name.c_str(), py::reinterpret_borrow<py::object>(cls));
  }
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const shmring::error& e) {
      PyErr_SetString(class_for(e.code()), e.what());
    }
  });
}

void raise(shmring::errc code, std::string_view segment, std::string_view detail) {
  throw shmring::error(code, segment, detail);
}

}  // namespace shmring_py
