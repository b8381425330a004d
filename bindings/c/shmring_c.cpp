// shmring's C ABI (include/shmring/c/shmring.h) over the C++ headers: each handle holds the C++ endpoint, each
// call runs inside guard(), which turns every exception into its errc and this thread's message. No protocol
// here: what a call does is what the C++ member it forwards to does.
#define SHMRING_C_BUILDING 1
#include <shmring/c/shmring.h>

#include <shmring/dynamic.hpp>
#include <shmring/message.hpp>
#include <shmring/shmring.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct shmring_message_producer {
  std::optional<shmring::message_producer> ep;
};
struct shmring_message_consumer {
  std::optional<shmring::message_consumer> ep;
};
struct shmring_producer {
  std::optional<shmring::dynamic_producer> ep;
};
struct shmring_consumer {
  std::optional<shmring::dynamic_consumer> ep;
};

namespace {

using shmring::errc;
using shmring::error;

thread_local std::string last_error;

// Runs f; an exception becomes its code (and this thread's message). f returns the call's outcome (an int).
template <class F>
int guard(F&& f) noexcept {
  try {
    return f();
  } catch (const error& e) {
    last_error = e.what();
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    last_error = "shmring: system_error: out of memory";
    return static_cast<int>(errc::system_error);
  } catch (const std::exception& e) {
    last_error = std::string("shmring: system_error: ") + e.what();
    return static_cast<int>(errc::system_error);
  } catch (...) {
    last_error = "shmring: system_error: an unknown exception";
    return static_cast<int>(errc::system_error);
  }
}

[[noreturn]] void bad(const char* what) { throw error(errc::invalid_argument, "", what); }

// The live endpoint of a handle: invalid_argument for a null handle or one that was closed.
template <class H>
auto& live(H* h) {
  if (h == nullptr) bad("the handle is null");
  if (!h->ep) bad("the endpoint was closed");
  return *h->ep;
}

template <class T>
T* need(T* p, const char* what) {
  if (p == nullptr) bad(what);
  return p;
}

std::string_view name_of(const char* name) { return need(name, "the name is null"); }

shmring::options options_of(const shmring_options* o) {
  shmring::options r;
  if (o != nullptr) {
    r.open_timeout = std::chrono::nanoseconds(o->open_timeout_ns);
    r.persistent = o->persistent != 0;
    r.timestamps = o->timestamps != 0;
    if (o->slot_layout > SHMRING_SLOTS_PACKED)
      throw shmring::error(shmring::errc::invalid_argument, "",
                           "slot_layout " + std::to_string(o->slot_layout) +
                               " is neither SHMRING_SLOTS_TURN (0) nor SHMRING_SLOTS_PACKED (1)");
    r.slot_layout = o->slot_layout == SHMRING_SLOTS_PACKED ? shmring::slots::packed : shmring::slots::turn;
  }
  return r;
}

shmring::element_info element_of(const shmring_element* e) {
  need(e, "the element description is null");
  return {e->size, e->align, e->type_name == nullptr ? std::string_view{} : std::string_view(e->type_name)};
}

std::chrono::nanoseconds ns(std::int64_t t) { return std::chrono::nanoseconds(t); }

// Makes a handle holding what make() returns.
template <class H, class Make>
int make_handle(H** out, Make&& make) {
  return guard([&] {
    need(out, "the out pointer is null");
    *out = nullptr;
    auto h = std::make_unique<H>();
    h->ep.emplace(make());
    *out = h.release();
    return SHMRING_OK;
  });
}

template <class H>
int close_handle(H* h) {
  return guard([&] {
    live(h).close();
    h->ep.reset();
    return SHMRING_OK;
  });
}

// The other side's state as get(endpoint) reads it, or -1 for a null or closed handle.
template <class H, class Get>
int peer_state_of(const H* h, Get get) {
  return h == nullptr || !h->ep ? -1 : static_cast<int>(get(*h->ep));
}
constexpr auto consumer_state = [](const auto& ep) { return ep.consumer_state(); };
constexpr auto producer_state = [](const auto& ep) { return ep.producer_state(); };

void copy_side(const shmring::side_status& s, shmring_side_status& d) {
  d.state = static_cast<std::uint32_t>(s.state);
  d.alive = s.alive ? 1u : 0u;
  d.pid = s.pid;
  d.corrupted = s.corrupted ? 1u : 0u;
  d.attach_count = s.attach_count;
  d.messages = s.messages;
  d.bytes = s.bytes;
  d.stalls = s.stalls;
  d.wake_calls = s.wake_calls;
  d.sleeps = s.sleeps;
}

template <class H>
int status_of(const H* h, shmring_status* out) {
  return guard([&] {
    need(out, "the out pointer is null");
    const shmring::ring_status s = live(h).status();
    *out = shmring_status{};
    out->kind = static_cast<std::uint32_t>(s.kind);
    out->layout_version = s.layout_version;
    out->capacity = s.capacity;
    out->element_size = s.element_size;
    out->element_align = s.element_align;
    const std::size_t n = std::min(s.element_type.size(), sizeof out->element_type - 1);
    if (n != 0) std::memcpy(out->element_type, s.element_type.data(), n);
    out->head = s.head;
    out->tail = s.tail;
    out->messages_in_ring = s.messages_in_ring;
    out->bytes_used = s.bytes_used;
    out->next_sequence = s.next_sequence;
    out->dropped = s.dropped;
    out->persistent = s.persistent ? 1u : 0u;
    out->consistent = s.consistent ? 1u : 0u;
    copy_side(s.producer, out->producer);
    copy_side(s.consumer, out->consumer);
    return SHMRING_OK;
  });
}

std::span<const std::byte> bytes_of(const void* data, std::uint64_t length) {
  if (data == nullptr && length != 0) bad("the data pointer is null");
  return {static_cast<const std::byte*>(data), static_cast<std::size_t>(length)};
}

shmring::message_type type_of(std::uint32_t t) { return static_cast<shmring::message_type>(t); }
shmring::message_flags flags_of(std::uint32_t f) {
  if (f > 7) bad("message flags are urgent (1), compressed (2) and encrypted (4)");
  return static_cast<shmring::message_flags>(f);
}

void copy_info(const shmring::message_info& i, shmring_message_info* out) {
  out->sequence = i.sequence;
  out->timestamp_ns = i.timestamp_ns;
  out->length = i.length;
  out->type = static_cast<std::uint32_t>(i.type);
  out->flags = static_cast<std::uint32_t>(i.flags);
}

int done_or(bool done, int otherwise) { return done ? SHMRING_OK : otherwise; }

// A receive into buf: the outcome of one of the consumer's receive forms (an optional info: nothing is
// `otherwise`), with a message longer than the buffer reported as SHMRING_BUFFER_TOO_SMALL.
int received(const std::optional<shmring::message_info>& i, std::uint64_t capacity, shmring_message_info* info,
             int otherwise) {
  if (!i) return otherwise;
  copy_info(*i, info);
  return i->length > capacity ? SHMRING_BUFFER_TOO_SMALL : SHMRING_OK;
}

std::span<std::byte> buffer_of(void* buf, std::uint64_t capacity) {
  if (buf == nullptr && capacity != 0) bad("the buffer is null");
  return {static_cast<std::byte*>(buf), static_cast<std::size_t>(capacity)};
}

int viewed(const std::optional<shmring::message_view>& v, const void** payload, shmring_message_info* info,
           int otherwise) {
  if (!v) return otherwise;
  *payload = v->payload.data();
  copy_info(v->info, info);
  return SHMRING_OK;
}

}  // namespace

extern "C" {

// ---- errors and housekeeping ------------------------------------------------------------------------------
const char* shmring_last_error(void) { return last_error.c_str(); }

// The C header spells every errc; a code added to error.hpp must be added there (and to the bindings' lists).
static_assert(SHMRING_INHERITED == static_cast<int>(errc::inherited));
static_assert(SHMRING_LIMIT_EXCEEDED == static_cast<int>(errc::limit_exceeded));
static_assert(SHMRING_UNSUPPORTED == static_cast<int>(errc::unsupported));
static_assert(static_cast<int>(shmring::last_errc) == SHMRING_UNSUPPORTED,
              "a new errc: add it to include/shmring/c/shmring.h and bindings/csharp/Errors.cs");

const char* shmring_errc_name(int code) {
  switch (code) {
    case SHMRING_WOULD_BLOCK: return "would_block";
    case SHMRING_TIMED_OUT: return "timed_out";
    case SHMRING_BUFFER_TOO_SMALL: return "buffer_too_small";
    default: break;
  }
  if (code < 0 || code > static_cast<int>(shmring::last_errc)) return "unknown";
  return shmring::to_string(static_cast<errc>(code)).data();  // the names are string literals
}

void shmring_options_init(shmring_options* o) {
  if (o == nullptr) return;
  const shmring::options d;
  o->open_timeout_ns = static_cast<std::int64_t>(d.open_timeout.count());
  o->persistent = d.persistent ? 1u : 0u;
  o->timestamps = d.timestamps ? 1u : 0u;
  o->slot_layout = d.slot_layout == shmring::slots::packed ? SHMRING_SLOTS_PACKED : SHMRING_SLOTS_TURN;
}

int shmring_remove(const char* name) {
  return guard([&] { return shmring::remove(name_of(name)) ? SHMRING_OK : SHMRING_NOT_FOUND; });
}

// ---- message producer -----------------------------------------------------------------------------------------
int shmring_message_producer_create(const char* name, uint64_t capacity, const shmring_options* o,
                                    shmring_message_producer** out) {
  return make_handle(out, [&] { return shmring::message_producer::create(name_of(name), capacity, options_of(o)); });
}
int shmring_message_producer_open(const char* name, uint64_t capacity, const shmring_options* o,
                                  shmring_message_producer** out) {
  return make_handle(out, [&] { return shmring::message_producer::open(name_of(name), capacity, options_of(o)); });
}
int shmring_message_producer_open_or_create(const char* name, uint64_t capacity, const shmring_options* o,
                                            shmring_message_producer** out) {
  return make_handle(out,
                     [&] { return shmring::message_producer::open_or_create(name_of(name), capacity, options_of(o)); });
}
int shmring_message_producer_try_send(shmring_message_producer* p, const void* data, uint64_t length, uint32_t type,
                                      uint32_t flags) {
  return guard([&] {
    auto& ep = live(p);
    return done_or(ep.try_send(bytes_of(data, length), type_of(type), flags_of(flags)), SHMRING_WOULD_BLOCK);
  });
}
int shmring_message_producer_send(shmring_message_producer* p, const void* data, uint64_t length, uint32_t type,
                                  uint32_t flags) {
  return guard([&] {
    live(p).send(bytes_of(data, length), type_of(type), flags_of(flags));
    return SHMRING_OK;
  });
}
int shmring_message_producer_send_for(shmring_message_producer* p, const void* data, uint64_t length, uint32_t type,
                                      uint32_t flags, int64_t timeout_ns) {
  return guard([&] {
    auto& ep = live(p);
    return done_or(ep.send_for(bytes_of(data, length), ns(timeout_ns), type_of(type), flags_of(flags)),
                   SHMRING_TIMED_OUT);
  });
}
int shmring_message_producer_try_reserve(shmring_message_producer* p, uint64_t length, void** out) {
  return guard([&] {
    need(out, "the out pointer is null");
    const auto r = live(p).try_reserve(static_cast<std::size_t>(length));
    if (!r) return SHMRING_WOULD_BLOCK;
    *out = r->data();
    return SHMRING_OK;
  });
}
int shmring_message_producer_reserve(shmring_message_producer* p, uint64_t length, void** out) {
  return guard([&] {
    need(out, "the out pointer is null");
    *out = live(p).reserve(static_cast<std::size_t>(length)).data();
    return SHMRING_OK;
  });
}
int shmring_message_producer_reserve_for(shmring_message_producer* p, uint64_t length, int64_t timeout_ns,
                                         void** out) {
  return guard([&] {
    need(out, "the out pointer is null");
    const auto r = live(p).reserve_for(static_cast<std::size_t>(length), ns(timeout_ns));
    if (!r) return SHMRING_TIMED_OUT;
    *out = r->data();
    return SHMRING_OK;
  });
}
int shmring_message_producer_commit(shmring_message_producer* p, uint64_t length, uint32_t type, uint32_t flags) {
  return guard([&] {
    live(p).commit(static_cast<std::size_t>(length), type_of(type), flags_of(flags));
    return SHMRING_OK;
  });
}
int shmring_message_producer_abandon(shmring_message_producer* p) {
  return guard([&] {
    live(p).abandon();
    return SHMRING_OK;
  });
}
uint64_t shmring_message_producer_capacity(const shmring_message_producer* p) {
  return p != nullptr && p->ep ? p->ep->capacity() : 0;
}
uint64_t shmring_message_producer_max_try_send(const shmring_message_producer* p) {
  return p != nullptr && p->ep ? p->ep->max_try_send() : 0;
}
uint64_t shmring_message_producer_sent(const shmring_message_producer* p) {
  return p != nullptr && p->ep ? p->ep->sent() : 0;
}
int shmring_message_producer_consumer_state(const shmring_message_producer* p) { return peer_state_of(p, consumer_state); }
int shmring_message_producer_status(const shmring_message_producer* p, shmring_status* out) {
  return status_of(p, out);
}
int shmring_message_producer_close(shmring_message_producer* p) { return close_handle(p); }
void shmring_message_producer_free(shmring_message_producer* p) { delete p; }

// ---- message consumer -----------------------------------------------------------------------------------------
int shmring_message_consumer_create(const char* name, uint64_t capacity, const shmring_options* o,
                                    shmring_message_consumer** out) {
  return make_handle(out, [&] { return shmring::message_consumer::create(name_of(name), capacity, options_of(o)); });
}
int shmring_message_consumer_open(const char* name, uint64_t capacity, const shmring_options* o,
                                  shmring_message_consumer** out) {
  return make_handle(out, [&] { return shmring::message_consumer::open(name_of(name), capacity, options_of(o)); });
}
int shmring_message_consumer_open_or_create(const char* name, uint64_t capacity, const shmring_options* o,
                                            shmring_message_consumer** out) {
  return make_handle(out,
                     [&] { return shmring::message_consumer::open_or_create(name_of(name), capacity, options_of(o)); });
}
int shmring_message_consumer_try_receive(shmring_message_consumer* c, void* buf, uint64_t capacity,
                                         shmring_message_info* info) {
  return guard([&] {
    need(info, "the info pointer is null");
    auto& ep = live(c);
    return received(ep.try_receive(buffer_of(buf, capacity)), capacity, info, SHMRING_WOULD_BLOCK);
  });
}
int shmring_message_consumer_receive(shmring_message_consumer* c, void* buf, uint64_t capacity,
                                     shmring_message_info* info) {
  return guard([&] {
    need(info, "the info pointer is null");
    auto& ep = live(c);
    return received(ep.receive(buffer_of(buf, capacity)), capacity, info, SHMRING_OK);
  });
}
int shmring_message_consumer_receive_for(shmring_message_consumer* c, void* buf, uint64_t capacity,
                                         int64_t timeout_ns, shmring_message_info* info) {
  return guard([&] {
    need(info, "the info pointer is null");
    auto& ep = live(c);
    return received(ep.receive_for(buffer_of(buf, capacity), ns(timeout_ns)), capacity, info, SHMRING_TIMED_OUT);
  });
}
int shmring_message_consumer_try_read(shmring_message_consumer* c, const void** payload, shmring_message_info* info) {
  return guard([&] {
    need(payload, "the payload pointer is null");
    need(info, "the info pointer is null");
    auto& ep = live(c);
    return viewed(ep.try_read(), payload, info, SHMRING_WOULD_BLOCK);
  });
}
int shmring_message_consumer_read(shmring_message_consumer* c, const void** payload, shmring_message_info* info) {
  return guard([&] {
    need(payload, "the payload pointer is null");
    need(info, "the info pointer is null");
    auto& ep = live(c);
    return viewed(ep.read(), payload, info, SHMRING_OK);
  });
}
int shmring_message_consumer_read_for(shmring_message_consumer* c, int64_t timeout_ns, const void** payload,
                                      shmring_message_info* info) {
  return guard([&] {
    need(payload, "the payload pointer is null");
    need(info, "the info pointer is null");
    auto& ep = live(c);
    return viewed(ep.read_for(ns(timeout_ns)), payload, info, SHMRING_TIMED_OUT);
  });
}
int shmring_message_consumer_release(shmring_message_consumer* c) {
  return guard([&] {
    live(c).release();
    return SHMRING_OK;
  });
}
uint64_t shmring_message_consumer_capacity(const shmring_message_consumer* c) {
  return c != nullptr && c->ep ? c->ep->capacity() : 0;
}
uint64_t shmring_message_consumer_received(const shmring_message_consumer* c) {
  return c != nullptr && c->ep ? c->ep->received() : 0;
}
int shmring_message_consumer_producer_state(const shmring_message_consumer* c) { return peer_state_of(c, producer_state); }
int shmring_message_consumer_status(const shmring_message_consumer* c, shmring_status* out) {
  return status_of(c, out);
}
int shmring_message_consumer_close(shmring_message_consumer* c) { return close_handle(c); }
void shmring_message_consumer_free(shmring_message_consumer* c) { delete c; }

// ---- typed producer -------------------------------------------------------------------------------------------
int shmring_producer_create(const char* name, const shmring_element* e, uint64_t capacity, const shmring_options* o,
                            shmring_producer** out) {
  return make_handle(out, [&] {
    return shmring::dynamic_producer::create(name_of(name), element_of(e), capacity, options_of(o));
  });
}
int shmring_producer_open(const char* name, const shmring_element* e, const shmring_options* o,
                          shmring_producer** out) {
  return make_handle(out, [&] { return shmring::dynamic_producer::open(name_of(name), element_of(e), options_of(o)); });
}
int shmring_producer_open_or_create(const char* name, const shmring_element* e, uint64_t capacity,
                                    const shmring_options* o, shmring_producer** out) {
  return make_handle(out, [&] {
    return shmring::dynamic_producer::open_or_create(name_of(name), element_of(e), capacity, options_of(o));
  });
}
int shmring_producer_try_push(shmring_producer* p, const void* element) {
  return guard([&] {
    auto& ep = live(p);
    return done_or(ep.try_push(need(element, "the element pointer is null")), SHMRING_WOULD_BLOCK);
  });
}
int shmring_producer_push(shmring_producer* p, const void* element) {
  return guard([&] {
    live(p).push(need(element, "the element pointer is null"));
    return SHMRING_OK;
  });
}
int shmring_producer_push_for(shmring_producer* p, const void* element, int64_t timeout_ns) {
  return guard([&] {
    auto& ep = live(p);
    return done_or(ep.push_for(need(element, "the element pointer is null"), ns(timeout_ns)), SHMRING_TIMED_OUT);
  });
}
int shmring_producer_try_push_n(shmring_producer* p, const void* elements, uint64_t n, uint64_t* pushed) {
  return guard([&] {
    need(pushed, "the count pointer is null");
    *pushed = 0;
    auto& ep = live(p);
    if (n == 0) return SHMRING_OK;
    *pushed = ep.try_push_n(need(elements, "the elements pointer is null"), static_cast<std::size_t>(n));
    return *pushed == 0 ? SHMRING_WOULD_BLOCK : SHMRING_OK;
  });
}
int shmring_producer_push_n(shmring_producer* p, const void* elements, uint64_t n) {
  return guard([&] {
    auto& ep = live(p);
    if (n != 0) ep.push_n(need(elements, "the elements pointer is null"), static_cast<std::size_t>(n));
    return SHMRING_OK;
  });
}
uint64_t shmring_producer_capacity(const shmring_producer* p) { return p != nullptr && p->ep ? p->ep->capacity() : 0; }
uint64_t shmring_producer_pushed(const shmring_producer* p) { return p != nullptr && p->ep ? p->ep->pushed() : 0; }
int shmring_producer_consumer_state(const shmring_producer* p) { return peer_state_of(p, consumer_state); }
int shmring_producer_status(const shmring_producer* p, shmring_status* out) { return status_of(p, out); }
int shmring_producer_close(shmring_producer* p) { return close_handle(p); }
void shmring_producer_free(shmring_producer* p) { delete p; }

// ---- typed consumer -------------------------------------------------------------------------------------------
int shmring_consumer_create(const char* name, const shmring_element* e, uint64_t capacity, const shmring_options* o,
                            shmring_consumer** out) {
  return make_handle(out, [&] {
    return shmring::dynamic_consumer::create(name_of(name), element_of(e), capacity, options_of(o));
  });
}
int shmring_consumer_open(const char* name, const shmring_element* e, const shmring_options* o,
                          shmring_consumer** out) {
  return make_handle(out, [&] { return shmring::dynamic_consumer::open(name_of(name), element_of(e), options_of(o)); });
}
int shmring_consumer_open_or_create(const char* name, const shmring_element* e, uint64_t capacity,
                                    const shmring_options* o, shmring_consumer** out) {
  return make_handle(out, [&] {
    return shmring::dynamic_consumer::open_or_create(name_of(name), element_of(e), capacity, options_of(o));
  });
}
int shmring_consumer_try_pop(shmring_consumer* c, void* out) {
  return guard([&] {
    auto& ep = live(c);
    return done_or(ep.try_pop(need(out, "the out pointer is null")), SHMRING_WOULD_BLOCK);
  });
}
int shmring_consumer_pop(shmring_consumer* c, void* out) {
  return guard([&] {
    live(c).pop(need(out, "the out pointer is null"));
    return SHMRING_OK;
  });
}
int shmring_consumer_pop_for(shmring_consumer* c, void* out, int64_t timeout_ns) {
  return guard([&] {
    auto& ep = live(c);
    return done_or(ep.pop_for(need(out, "the out pointer is null"), ns(timeout_ns)), SHMRING_TIMED_OUT);
  });
}
int shmring_consumer_try_pop_n(shmring_consumer* c, void* out, uint64_t max, uint64_t* popped) {
  return guard([&] {
    need(popped, "the count pointer is null");
    *popped = 0;
    auto& ep = live(c);
    if (max == 0) return SHMRING_OK;
    *popped = ep.try_pop_n(need(out, "the out pointer is null"), static_cast<std::size_t>(max));
    return *popped == 0 ? SHMRING_WOULD_BLOCK : SHMRING_OK;
  });
}
int shmring_consumer_pop_n(shmring_consumer* c, void* out, uint64_t max, uint64_t* popped) {
  return guard([&] {
    need(popped, "the count pointer is null");
    *popped = 0;
    auto& ep = live(c);
    if (max == 0) bad("pop_n of 0 elements would wait for nothing");
    *popped = ep.pop_n(need(out, "the out pointer is null"), static_cast<std::size_t>(max));
    return SHMRING_OK;
  });
}
int shmring_consumer_try_read(shmring_consumer* c, const void** element) {
  return guard([&] {
    need(element, "the element pointer is null");
    const void* p = live(c).front();
    *element = p;
    return p == nullptr ? SHMRING_WOULD_BLOCK : SHMRING_OK;
  });
}
int shmring_consumer_release(shmring_consumer* c) {
  return guard([&] {
    live(c).pop_front();
    return SHMRING_OK;
  });
}
uint64_t shmring_consumer_capacity(const shmring_consumer* c) { return c != nullptr && c->ep ? c->ep->capacity() : 0; }
uint64_t shmring_consumer_popped(const shmring_consumer* c) { return c != nullptr && c->ep ? c->ep->popped() : 0; }
int shmring_consumer_producer_state(const shmring_consumer* c) { return peer_state_of(c, producer_state); }
int shmring_consumer_status(const shmring_consumer* c, shmring_status* out) { return status_of(c, out); }
int shmring_consumer_close(shmring_consumer* c) { return close_handle(c); }
void shmring_consumer_free(shmring_consumer* c) { delete c; }

}  // extern "C"
