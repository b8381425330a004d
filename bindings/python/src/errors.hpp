// The module's exceptions: shmring.Error and one subclass per shmring::errc, whose `code` is the errc name.
#pragma once

#include <shmring/error.hpp>

#include <pybind11/pybind11.h>

#include <string_view>

namespace shmring_py {

/// Creates shmring.Error and its subclasses in m and translates shmring::error into them.
void bind_errors(pybind11::module_& m);

/// Raises (as a C++ exception pybind11 turns into the Python one) the subclass for code, with this message.
[[noreturn]] void raise(shmring::errc code, std::string_view segment, std::string_view detail);

}  // namespace shmring_py
