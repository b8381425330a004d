/* shmring's C ABI: the four endpoints (message producer and consumer, typed producer and consumer of an element
 * described at run time) behind opaque handles, for C and for other languages' foreign-function interfaces (the
 * C# binding). Pure C99. Implemented by the shared library shmring_c (bindings/c/shmring_c.cpp) over the C++
 * headers: the protocol and its checks live there only. C++ programs use the headers directly.
 *
 * Conventions. Every call that can fail returns an int: SHMRING_OK (0), one of the shmring_errc values (the C++
 * errc, same numbers), or one of the two outcomes below that are no errors. On an error, shmring_last_error()
 * gives this thread's message for it. No exception crosses this interface. One thread uses an endpoint at a time
 * (as in C++). Lengths and counts are uint64_t; timeouts are nanoseconds (negative: do not wait; INT64_MAX: for
 * ever, practically). A handle is released with its _free function (which detaches it if it was not closed);
 * after _close the handle only answers SHMRING_INVALID_ARGUMENT until it is freed. */
#ifndef SHMRING_C_SHMRING_H
#define SHMRING_C_SHMRING_H

#include <stddef.h>
#include <stdint.h>

#if defined(SHMRING_C_BUILDING) && defined(__GNUC__)
#define SHMRING_C_API __attribute__((visibility("default")))
#else
#define SHMRING_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The C++ errc values (include/shmring/error.hpp), and two outcomes that are no errors. */
enum shmring_errc {
  SHMRING_OK = 0,
  SHMRING_INVALID_NAME = 1,
  SHMRING_INVALID_ARGUMENT = 2,
  SHMRING_NOT_FOUND = 3,
  SHMRING_ALREADY_EXISTS = 4,
  SHMRING_PERMISSION_DENIED = 5,
  SHMRING_NOT_READY = 6,
  SHMRING_BAD_MAGIC = 7,
  SHMRING_VERSION_MISMATCH = 8,
  SHMRING_KIND_MISMATCH = 9,
  SHMRING_ELEMENT_MISMATCH = 10,
  SHMRING_CAPACITY_MISMATCH = 11,
  SHMRING_LAYOUT_MISMATCH = 12,
  SHMRING_TRUNCATED = 13,
  SHMRING_ALREADY_ATTACHED = 14,
  SHMRING_PEER_DEAD = 15,
  SHMRING_CORRUPTED = 16,
  SHMRING_MESSAGE_TOO_LARGE = 17,
  SHMRING_TYPE_MISMATCH = 18,
  SHMRING_SYSTEM_ERROR = 19,
  SHMRING_NO_SPACE = 20,
  SHMRING_NOT_A_SEGMENT = 21,
  SHMRING_CLOSED = 22,
  SHMRING_INHERITED = 23,
  SHMRING_LIMIT_EXCEEDED = 24,
  SHMRING_UNSUPPORTED = 25,
  /* Not errors: a try_ call that could not proceed now (ring full or empty), a timed call whose time ran out. */
  SHMRING_WOULD_BLOCK = 1000,
  SHMRING_TIMED_OUT = 1001,
  /* Not an error: a receive into a buffer too small; nothing was consumed, info->length says the size needed. */
  SHMRING_BUFFER_TOO_SMALL = 1002
};

/* The state of the other side (C++ peer_state). */
enum shmring_peer_state { SHMRING_STATE_ALIVE = 0, SHMRING_STATE_ABSENT = 1, SHMRING_STATE_DEAD = 2, SHMRING_STATE_CLOSED = 3 };

/* The message flags a sender sets (carried, not interpreted). */
enum shmring_message_flags { SHMRING_FLAG_URGENT = 1, SHMRING_FLAG_COMPRESSED = 2, SHMRING_FLAG_ENCRYPTED = 4 };

/* How an endpoint is created or opened; shmring_options_init() gives the defaults. NULL means the defaults. */
typedef struct shmring_options {
  int64_t open_timeout_ns; /* how long open waits for a creator still setting the segment up (2 s) */
  uint32_t persistent;     /* nonzero: keep the segment when both sides have left it empty (0) */
  uint32_t timestamps;     /* message producers: stamp each message with CLOCK_MONOTONIC (1) */
  uint32_t slot_layout;    /* typed creators: SHMRING_SLOTS_TURN (0, the default) or SHMRING_SLOTS_PACKED; typed
                              openers accept a ring of either format */
} shmring_options;

/* The slot format a typed ring is created with (C++ shmring::slots; docs/layout.md "Typed ring data area"). */
enum shmring_slot_layout { SHMRING_SLOTS_TURN = 0, SHMRING_SLOTS_PACKED = 1 };

/* A typed ring's element: size and alignment in bytes, and its declared type name (NULL or "": none; then only
 * size and alignment are compared with the segment's, as for a C++ type without shmring_type_name). */
typedef struct shmring_element {
  uint32_t size;
  uint32_t align;
  const char* type_name;
} shmring_element;

/* What a received message carried besides its payload. */
typedef struct shmring_message_info {
  uint64_t sequence;     /* per ring, from 0 */
  uint64_t timestamp_ns; /* CLOCK_MONOTONIC when the send began; 0 without timestamps */
  uint64_t length;       /* payload bytes */
  uint32_t type;         /* as sent (1: data) */
  uint32_t flags;        /* as sent (shmring_message_flags) */
} shmring_message_info;

/* One side's part of a status. */
typedef struct shmring_side_status {
  uint32_t state; /* 0 never attached, 1 attached, 2 detached (docs/layout.md) */
  uint32_t alive; /* a process holds this side's attach lock now */
  uint32_t pid;
  uint32_t corrupted;
  uint64_t attach_count;
  uint64_t messages; /* typed: elements pushed/popped; message rings: messages */
  uint64_t bytes;
  uint64_t stalls;
  uint64_t wake_calls;
  uint64_t sleeps;
} shmring_side_status;

/* A snapshot of a ring's header (C++ ring_status, less its name). */
typedef struct shmring_status {
  uint32_t kind; /* 1 typed, 2 message */
  uint32_t layout_version;
  uint64_t capacity; /* typed: elements; message: data bytes */
  uint32_t element_size;
  uint32_t element_align;
  char element_type[48]; /* typed: the element's declared name, "" when none; zero-terminated */
  uint64_t head;
  uint64_t tail;
  uint64_t messages_in_ring;
  uint64_t bytes_used;
  uint64_t next_sequence;
  uint64_t dropped;
  uint32_t persistent;
  uint32_t consistent;
  shmring_side_status producer;
  shmring_side_status consumer;
} shmring_status;

typedef struct shmring_message_producer shmring_message_producer;
typedef struct shmring_message_consumer shmring_message_consumer;
typedef struct shmring_producer shmring_producer; /* typed ring, element described at run time */
typedef struct shmring_consumer shmring_consumer;

/* ---- errors and housekeeping ---------------------------------------------------------------------------- */
/* This thread's message for its last failed call ("" if none); valid until this thread's next failed call. */
SHMRING_C_API const char* shmring_last_error(void);
/* The stable name of a code ("peer_dead", "would_block"), or "unknown". */
SHMRING_C_API const char* shmring_errc_name(int code);
SHMRING_C_API void shmring_options_init(shmring_options* o);
/* Removes the segment name: SHMRING_OK, or SHMRING_NOT_FOUND when there was none. */
SHMRING_C_API int shmring_remove(const char* name);

/* ---- message producer ----------------------------------------------------------------------------------- */
/* capacity: data bytes, a power of two (open: 0 accepts the segment's). */
SHMRING_C_API int shmring_message_producer_create(const char* name, uint64_t capacity, const shmring_options* o,
                                                  shmring_message_producer** out);
SHMRING_C_API int shmring_message_producer_open(const char* name, uint64_t capacity, const shmring_options* o,
                                                shmring_message_producer** out);
SHMRING_C_API int shmring_message_producer_open_or_create(const char* name, uint64_t capacity,
                                                          const shmring_options* o, shmring_message_producer** out);
SHMRING_C_API int shmring_message_producer_try_send(shmring_message_producer* p, const void* data, uint64_t length,
                                                    uint32_t type, uint32_t flags);
SHMRING_C_API int shmring_message_producer_send(shmring_message_producer* p, const void* data, uint64_t length,
                                                uint32_t type, uint32_t flags);
SHMRING_C_API int shmring_message_producer_send_for(shmring_message_producer* p, const void* data, uint64_t length,
                                                    uint32_t type, uint32_t flags, int64_t timeout_ns);
/* Zero copy: reserve length bytes in the ring (*out points at them), write them, then commit (or abandon). */
SHMRING_C_API int shmring_message_producer_try_reserve(shmring_message_producer* p, uint64_t length, void** out);
SHMRING_C_API int shmring_message_producer_reserve(shmring_message_producer* p, uint64_t length, void** out);
SHMRING_C_API int shmring_message_producer_reserve_for(shmring_message_producer* p, uint64_t length,
                                                       int64_t timeout_ns, void** out);
SHMRING_C_API int shmring_message_producer_commit(shmring_message_producer* p, uint64_t length, uint32_t type,
                                                  uint32_t flags);
SHMRING_C_API int shmring_message_producer_abandon(shmring_message_producer* p);
SHMRING_C_API uint64_t shmring_message_producer_capacity(const shmring_message_producer* p);
SHMRING_C_API uint64_t shmring_message_producer_max_try_send(const shmring_message_producer* p);
SHMRING_C_API uint64_t shmring_message_producer_sent(const shmring_message_producer* p);
/* A shmring_peer_state, or -1 for a closed handle. */
SHMRING_C_API int shmring_message_producer_consumer_state(const shmring_message_producer* p);
SHMRING_C_API int shmring_message_producer_status(const shmring_message_producer* p, shmring_status* out);
/* Ends the stream: the consumer receives everything sent before, then SHMRING_CLOSED. */
SHMRING_C_API int shmring_message_producer_close(shmring_message_producer* p);
SHMRING_C_API void shmring_message_producer_free(shmring_message_producer* p);

/* ---- message consumer ----------------------------------------------------------------------------------- */
SHMRING_C_API int shmring_message_consumer_create(const char* name, uint64_t capacity, const shmring_options* o,
                                                  shmring_message_consumer** out);
SHMRING_C_API int shmring_message_consumer_open(const char* name, uint64_t capacity, const shmring_options* o,
                                                shmring_message_consumer** out);
SHMRING_C_API int shmring_message_consumer_open_or_create(const char* name, uint64_t capacity,
                                                          const shmring_options* o, shmring_message_consumer** out);
/* Copies the next message into buf (capacity bytes): SHMRING_BUFFER_TOO_SMALL consumes nothing. */
SHMRING_C_API int shmring_message_consumer_try_receive(shmring_message_consumer* c, void* buf, uint64_t capacity,
                                                       shmring_message_info* info);
SHMRING_C_API int shmring_message_consumer_receive(shmring_message_consumer* c, void* buf, uint64_t capacity,
                                                   shmring_message_info* info);
SHMRING_C_API int shmring_message_consumer_receive_for(shmring_message_consumer* c, void* buf, uint64_t capacity,
                                                       int64_t timeout_ns, shmring_message_info* info);
/* Zero copy: the next message in place (*payload, info->length bytes), valid until release(). */
SHMRING_C_API int shmring_message_consumer_try_read(shmring_message_consumer* c, const void** payload,
                                                    shmring_message_info* info);
SHMRING_C_API int shmring_message_consumer_read(shmring_message_consumer* c, const void** payload,
                                                shmring_message_info* info);
SHMRING_C_API int shmring_message_consumer_read_for(shmring_message_consumer* c, int64_t timeout_ns,
                                                    const void** payload, shmring_message_info* info);
SHMRING_C_API int shmring_message_consumer_release(shmring_message_consumer* c);
SHMRING_C_API uint64_t shmring_message_consumer_capacity(const shmring_message_consumer* c);
SHMRING_C_API uint64_t shmring_message_consumer_received(const shmring_message_consumer* c);
SHMRING_C_API int shmring_message_consumer_producer_state(const shmring_message_consumer* c);
SHMRING_C_API int shmring_message_consumer_status(const shmring_message_consumer* c, shmring_status* out);
SHMRING_C_API int shmring_message_consumer_close(shmring_message_consumer* c);
SHMRING_C_API void shmring_message_consumer_free(shmring_message_consumer* c);

/* ---- typed producer (element described at run time; interoperates with C++ producer<T>/consumer<T>) ------- */
/* capacity: elements, a power of two. Every element pointer points at e->size bytes. */
SHMRING_C_API int shmring_producer_create(const char* name, const shmring_element* e, uint64_t capacity,
                                          const shmring_options* o, shmring_producer** out);
SHMRING_C_API int shmring_producer_open(const char* name, const shmring_element* e, const shmring_options* o,
                                        shmring_producer** out);
SHMRING_C_API int shmring_producer_open_or_create(const char* name, const shmring_element* e, uint64_t capacity,
                                                  const shmring_options* o, shmring_producer** out);
SHMRING_C_API int shmring_producer_try_push(shmring_producer* p, const void* element);
SHMRING_C_API int shmring_producer_push(shmring_producer* p, const void* element);
SHMRING_C_API int shmring_producer_push_for(shmring_producer* p, const void* element, int64_t timeout_ns);
/* Pushes as many of the n elements as fit now (*pushed of them; SHMRING_WOULD_BLOCK when none fit). */
SHMRING_C_API int shmring_producer_try_push_n(shmring_producer* p, const void* elements, uint64_t n, uint64_t* pushed);
/* Pushes all n elements, waiting for room. */
SHMRING_C_API int shmring_producer_push_n(shmring_producer* p, const void* elements, uint64_t n);
SHMRING_C_API uint64_t shmring_producer_capacity(const shmring_producer* p);
SHMRING_C_API uint64_t shmring_producer_pushed(const shmring_producer* p);
SHMRING_C_API int shmring_producer_consumer_state(const shmring_producer* p);
SHMRING_C_API int shmring_producer_status(const shmring_producer* p, shmring_status* out);
SHMRING_C_API int shmring_producer_close(shmring_producer* p);
SHMRING_C_API void shmring_producer_free(shmring_producer* p);

/* ---- typed consumer --------------------------------------------------------------------------------------- */
SHMRING_C_API int shmring_consumer_create(const char* name, const shmring_element* e, uint64_t capacity,
                                          const shmring_options* o, shmring_consumer** out);
SHMRING_C_API int shmring_consumer_open(const char* name, const shmring_element* e, const shmring_options* o,
                                        shmring_consumer** out);
SHMRING_C_API int shmring_consumer_open_or_create(const char* name, const shmring_element* e, uint64_t capacity,
                                                  const shmring_options* o, shmring_consumer** out);
SHMRING_C_API int shmring_consumer_try_pop(shmring_consumer* c, void* out);
SHMRING_C_API int shmring_consumer_pop(shmring_consumer* c, void* out);
SHMRING_C_API int shmring_consumer_pop_for(shmring_consumer* c, void* out, int64_t timeout_ns);
/* Copies up to max elements (*popped of them; try_: SHMRING_WOULD_BLOCK when none; the waiting form at least 1). */
SHMRING_C_API int shmring_consumer_try_pop_n(shmring_consumer* c, void* out, uint64_t max, uint64_t* popped);
SHMRING_C_API int shmring_consumer_pop_n(shmring_consumer* c, void* out, uint64_t max, uint64_t* popped);
/* Zero copy: the oldest element in place, valid until release(). */
SHMRING_C_API int shmring_consumer_try_read(shmring_consumer* c, const void** element);
SHMRING_C_API int shmring_consumer_release(shmring_consumer* c);
SHMRING_C_API uint64_t shmring_consumer_capacity(const shmring_consumer* c);
SHMRING_C_API uint64_t shmring_consumer_popped(const shmring_consumer* c);
SHMRING_C_API int shmring_consumer_producer_state(const shmring_consumer* c);
SHMRING_C_API int shmring_consumer_status(const shmring_consumer* c, shmring_status* out);
SHMRING_C_API int shmring_consumer_close(shmring_consumer* c);
SHMRING_C_API void shmring_consumer_free(shmring_consumer* c);

#ifdef __cplusplus
}
#endif

#endif /* SHMRING_C_SHMRING_H */
