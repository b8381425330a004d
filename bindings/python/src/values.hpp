// numpy values as element bytes and back: the one place the module turns a Python value into the bytes of a
// dtype (typed rings, send_typed) and bytes into a numpy scalar (pop, receive_typed).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <span>

namespace shmring_py {

/// A dtype that can be copied as bytes: no Python objects in it. dtype None means "as numpy infers it".
pybind11::dtype plain_dtype(const pybind11::object& dtype, const char* what);
/// value (a numpy scalar, a record, a tuple for a structured dtype, a Python number) as one element of dtype: a
/// 0-d C-contiguous array. dtype None: the value's own dtype (np.asarray(value)).
pybind11::array one_element(const pybind11::object& value, const pybind11::object& dtype);
/// A numpy scalar of dtype (np.uint64, np.void for records) with these bytes (exactly dtype.itemsize of them).
pybind11::object scalar_of(const pybind11::dtype& dtype, std::span<const std::byte> bytes);

}  // namespace shmring_py
