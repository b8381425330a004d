// Typed rings over numpy dtypes: Producer and Consumer (shmring::dynamic_producer / dynamic_consumer).
#pragma once

#include <pybind11/pybind11.h>

namespace shmring_py {

void bind_typed(pybind11::module_& m);

}  // namespace shmring_py
