// ring_status as a Python dict (endpoint.status(), shmring.status(name)).
#pragma once

#include <shmring/status.hpp>

#include <pybind11/pybind11.h>

namespace shmring_py {

pybind11::dict status_dict(const shmring::ring_status& s);

}  // namespace shmring_py
