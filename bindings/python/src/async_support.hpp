// asyncio: MessageConsumer.receive_async() and Consumer.pop_async(), over the endpoints' event descriptors
// (native_handle(), docs/events.md) and the event loop's add_reader.
#pragma once

#include "waiting.hpp"

#include <pybind11/pybind11.h>

namespace shmring_py {

/// Adds receive_async / pop_async to the consumer classes. After bind_messages and bind_typed.
void bind_async(pybind11::module_& m);

/// native_handle() and arm() on an endpoint class whose wrapper has get(), busy_ and name_.
template <class Self, class Cls>
void def_descriptor(Cls& cls) {
  cls.def(
         "native_handle", [](Self& self) { return self.get().native_handle(); },
         "The endpoint's event descriptor (owned by it: do not close): readable when this side may have work "
         "(docs/events.md). Drain with the try_ calls, arm(), and wait on it only when arm() returned True.")
      .def(
          "arm",
          [](Self& self) {
            busy_guard busy(self.busy_, self.name_);
            return self.get().arm();
          },
          "Announces that this side is about to wait on native_handle(): True when it may wait now, False when "
          "something happened meanwhile (drain again). The first call always returns False.");
}

}  // namespace shmring_py
