// asyncio support. The coroutines follow the descriptor protocol of docs/events.md: drain with the try_ call; when
// it finds nothing, arm() (false: something happened meanwhile, drain again) and wait until the descriptor is
// readable with loop.add_reader, then drain again. A producer that closed or died ends the stream once its last
// item was taken (its last store comes before its state, so one more try_ call after seeing the state suffices),
// as ClosedError / PeerDeadError, like the blocking calls. They are Python (the loop's API is), run here once.
#include "async_support.hpp"

#include <pybind11/eval.h>

namespace py = pybind11;

namespace shmring_py {
namespace {

constexpr const char* coroutines = R"PY(
import asyncio as _asyncio


async def _readable(fd):
    loop = _asyncio.get_running_loop()
    ready = loop.create_future()

    def wake():
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def _next(endpoint, attempt, peer_state, what):
    fd = endpoint.native_handle()
    while True:
        item = attempt()
        if item is not None:
            return item
        state = getattr(endpoint, peer_state)
        if state in ("closed", "dead"):
            item = attempt()
            if item is not None:
                return item
            if state == "closed":
                raise _shmring.ClosedError(f'shmring: "{endpoint.name}": closed: the producer closed the stream '
                                           f'and every {what} it sent was received')
            raise _shmring.PeerDeadError(f'shmring: "{endpoint.name}": peer_dead: the producer died; every '
                                         f'{what} it completed was received')
        if endpoint.arm():
            await _readable(fd)


async def receive_async(self):
    """await consumer.receive_async(): the next message (a Message), without blocking the event loop. Raises
    ClosedError after the last message of a closed stream, PeerDeadError after a dead producer's."""
    return await _next(self, self.try_receive, "producer_state", "message")


async def pop_async(self):
    """await consumer.pop_async(): the oldest element (a numpy scalar), without blocking the event loop. Raises
    ClosedError after the last element of a closed stream, PeerDeadError after a dead producer's."""
    return await _next(self, self.try_pop, "producer_state", "element")
)PY";

}  // namespace

void bind_async(py::module_& m) {
  py::dict ns;
  ns["__builtins__"] = py::module_::import("builtins");
  ns["_shmring"] = m;
  py::exec(coroutines, ns);
  m.attr("MessageConsumer").attr("receive_async") = ns["receive_async"];
  m.attr("Consumer").attr("pop_async") = ns["pop_async"];
}

}  // namespace shmring_py
