// ring_status as a dict: the field names of shmring::ring_status and side_status (as `shmring stat --json`),
// enums as their names.
#include "status.hpp"

#include <string>

namespace py = pybind11;

namespace shmring_py {
namespace {

py::str text(std::string_view s) { return {s.data(), s.size()}; }

py::dict side_dict(const shmring::side_status& d) {
  py::dict r;
  r["state"] = text(shmring::to_string(d.state));
  r["alive"] = d.alive;
  r["dead"] = d.dead();
  r["pid"] = d.pid;
  r["start_time"] = d.start_time;
  r["attach_count"] = d.attach_count;
  r["attach_ns"] = d.attach_ns;
  r["messages"] = d.messages;
  r["bytes"] = d.bytes;
  r["stalls"] = d.stalls;
  r["wake_calls"] = d.wake_calls;
  r["sleeps"] = d.sleeps;
  r["corrupted"] = d.corrupted;
  return r;
}

}  // namespace

py::dict status_dict(const shmring::ring_status& s) {
  py::dict r;
  r["name"] = s.name;
  r["kind"] = text(shmring::to_string(s.kind));
  r["layout_version"] = s.layout_version;
  r["capacity"] = s.capacity;
  r["element_size"] = s.element_size;
  r["element_align"] = s.element_align;
  r["element_type"] = s.element_type;
  r["data_offset"] = s.data_offset;
  r["segment_size"] = s.segment_size;
  r["created_ns"] = s.created_ns;
  r["creator_uid"] = s.creator_uid;
  r["persistent"] = s.persistent;
  r["initial_index"] = s.initial_index;
  r["head"] = s.head;
  r["tail"] = s.tail;
  r["consistent"] = s.consistent;
  r["messages_in_ring"] = s.messages_in_ring;
  r["bytes_used"] = s.bytes_used;
  r["usage_percent"] = s.usage_percent;
  r["next_sequence"] = s.next_sequence;
  r["aborted"] = s.aborted;
  r["dropped"] = s.dropped;
  r["producer"] = side_dict(s.producer);
  r["consumer"] = side_dict(s.consumer);
  return r;
}

}  // namespace shmring_py
