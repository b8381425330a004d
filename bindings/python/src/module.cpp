// The Python module `shmring`: the C++ library's message rings and typed rings, over its headers.
// Layout: errors.cpp (shmring.Error and its subclasses), messages.cpp + message_view.cpp (message rings),
// typed.cpp (typed rings over numpy dtypes), values.cpp (numpy values <-> bytes), status.cpp (status dicts),
// async_support.cpp (asyncio), waiting.hpp (GIL-free, interruptible waits).
#include "async_support.hpp"
#include "errors.hpp"
#include "messages.hpp"
#include "status.hpp"
#include "typed.hpp"

#include <shmring/shmring.hpp>

#include <pybind11/pybind11.h>

namespace py = pybind11;
using namespace pybind11::literals;

PYBIND11_MODULE(shmring, m) {
  m.doc() = "Lock-free single-producer/single-consumer rings between processes in named shared memory "
            "(the shmring C++ library).";
  shmring_py::bind_errors(m);
  shmring_py::bind_messages(m);
  shmring_py::bind_typed(m);
  shmring_py::bind_async(m);

  m.def("remove", [](const std::string& name) { return shmring::remove(name); }, "name"_a,
        "Removes the segment's name (attached processes keep their mapping). False when there was none.");
  m.def("status", [](const std::string& name) { return shmring_py::status_dict(shmring::status(name)); }, "name"_a,
        "A snapshot of the ring's header, read-only, without attaching.");
  m.attr("URGENT") = static_cast<int>(shmring::message_flags::urgent);
  m.attr("COMPRESSED") = static_cast<int>(shmring::message_flags::compressed);
  m.attr("ENCRYPTED") = static_cast<int>(shmring::message_flags::encrypted);

  // BitRPC's spellings: either side may come first, so both open the ring or create it.
  m.def("create_producer",
        [](const std::string& name, std::uint64_t size) {
          return shmring_py::py_message_producer(shmring::message_producer::open_or_create(name, size));
        },
        "name"_a, "size"_a, "BitRPC's create_producer: MessageProducer.open_or_create(name, size).");
  m.def("create_consumer",
        [](const std::string& name, std::uint64_t size) {
          return shmring_py::py_message_consumer(shmring::message_consumer::open_or_create(name, size));
        },
        "name"_a, "size"_a, "BitRPC's create_consumer: MessageConsumer.open_or_create(name, size).");
}
