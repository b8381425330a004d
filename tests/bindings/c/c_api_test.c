/* The C ABI from C: a message stream and a typed stream between two processes (this program re-run as the
 * producer), every value checked; the zero-copy forms; refusals and errors as codes with a message; closed
 * handles. Exit 0 when every check passed; each failed check prints its line. */
#define _POSIX_C_SOURCE 200809L
#include <shmring/c/shmring.h>

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static int failures = 0;
#define CHECK(cond)                                                                         \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      ++failures;                                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              shmring_last_error());                                                        \
    }                                                                                       \
  } while (0)

typedef struct record {
  int32_t id;
  double value;
} record;
static const shmring_element record_element = {sizeof(record), 8, "xlang.record/v1"};

enum { message_count = 20000, record_count = 200000, batch = 37 };

static char msg_name[64], typed_name[64], refuse_name[64];

static void remove_all(void) {
  (void)shmring_remove(msg_name);
  (void)shmring_remove(typed_name);
  (void)shmring_remove(refuse_name);
}

/* Message i: length, type, flags and its bytes. */
static uint64_t length_of(uint64_t i) { return (i * 2654435761u) % 3000u; }
static uint32_t type_of(uint64_t i) { return 1u + (uint32_t)(i % 7u); }
static uint32_t flags_of(uint64_t i) { return (uint32_t)(i % 8u); }
static unsigned char byte_of(uint64_t i, uint64_t j) { return (unsigned char)(i * 31u + j * 7u); }
static void fill(unsigned char* p, uint64_t i) {
  uint64_t j;
  for (j = 0; j < length_of(i); ++j) p[j] = byte_of(i, j);
}
static int payload_ok(const unsigned char* p, uint64_t n, uint64_t i) {
  uint64_t j;
  if (n != length_of(i)) return 0;
  for (j = 0; j < n; ++j)
    if (p[j] != byte_of(i, j)) return 0;
  return 1;
}
static record record_of(uint64_t k) {
  record r;
  r.id = (int32_t)(k & 0x7fffffff);
  r.value = (double)k * 0.5;
  return r;
}

/* The producer process: sends every message through one of the four send forms, then closes. */
static int message_producer_child(void) {
  shmring_message_producer* p = NULL;
  static unsigned char buf[4096];
  uint64_t i;
  if (shmring_message_producer_open(msg_name, 0, NULL, &p) != SHMRING_OK) return 10;
  for (i = 0; i < message_count; ++i) {
    int rc = SHMRING_OK;
    fill(buf, i);
    switch (i % 4) {
      case 0: rc = shmring_message_producer_send(p, buf, length_of(i), type_of(i), flags_of(i)); break;
      case 1:
        while ((rc = shmring_message_producer_try_send(p, buf, length_of(i), type_of(i), flags_of(i))) ==
               SHMRING_WOULD_BLOCK) {
        }
        break;
      case 2: rc = shmring_message_producer_send_for(p, buf, length_of(i), type_of(i), flags_of(i), INT64_MAX); break;
      default: {
        void* room = NULL;
        rc = shmring_message_producer_reserve(p, length_of(i), &room);
        if (rc == SHMRING_OK) {
          fill((unsigned char*)room, i);
          rc = shmring_message_producer_commit(p, length_of(i), type_of(i), flags_of(i));
        }
      }
    }
    if (rc != SHMRING_OK) {
      fprintf(stderr, "send %llu: %s\n", (unsigned long long)i, shmring_last_error());
      return 11;
    }
  }
  if (shmring_message_producer_close(p) != SHMRING_OK) return 12;
  shmring_message_producer_free(p);
  return 0;
}

static int typed_producer_child(void) {
  shmring_producer* p = NULL;
  record buf[batch];
  uint64_t k = 0;
  if (shmring_producer_open(typed_name, &record_element, NULL, &p) != SHMRING_OK) return 20;
  while (k < record_count) {
    uint64_t n = record_count - k < batch ? record_count - k : batch, j;
    int rc = SHMRING_OK;
    for (j = 0; j < n; ++j) buf[j] = record_of(k + j);
    if ((k / batch) % 3 == 0) {
      rc = shmring_producer_push_n(p, buf, n);
    } else if ((k / batch) % 3 == 1) {
      for (j = 0; j < n && rc == SHMRING_OK; ++j) rc = shmring_producer_push(p, &buf[j]);
    } else {
      uint64_t done = 0;
      while (done < n) {
        uint64_t pushed = 0;
        rc = shmring_producer_try_push_n(p, buf + done, n - done, &pushed);
        if (rc == SHMRING_OK) done += pushed;
        else if (rc != SHMRING_WOULD_BLOCK) break;
      }
    }
    if (rc != SHMRING_OK) {
      fprintf(stderr, "push %llu: %s\n", (unsigned long long)k, shmring_last_error());
      return 21;
    }
    k += n;
  }
  if (shmring_producer_pushed(p) != record_count) return 22;
  if (shmring_producer_close(p) != SHMRING_OK) return 23;
  shmring_producer_free(p);
  return 0;
}

static pid_t spawn_child(const char* self, const char* role) {
  pid_t pid = -1;
  char* argv[6];
  argv[0] = (char*)self;
  argv[1] = (char*)role;
  argv[2] = msg_name;
  argv[3] = typed_name;
  argv[4] = refuse_name;
  argv[5] = NULL;
  if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0) return -1;
  return pid;
}

static int wait_child(pid_t pid) {
  int status = 0;
  if (pid <= 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_messages(const char* self) {
  shmring_message_consumer* c = NULL;
  static unsigned char buf[4096];
  shmring_message_info info;
  shmring_status st;
  uint64_t i, bad = 0;
  pid_t child;
  CHECK(shmring_message_consumer_create(msg_name, 8192, NULL, &c) == SHMRING_OK);
  if (c == NULL) return;
  CHECK(shmring_message_consumer_capacity(c) == 8192);
  CHECK(shmring_message_consumer_try_receive(c, buf, sizeof buf, &info) == SHMRING_WOULD_BLOCK);
  CHECK(shmring_message_consumer_receive_for(c, buf, sizeof buf, 1000000, &info) == SHMRING_TIMED_OUT);
  child = spawn_child(self, "message-producer");
  CHECK(child > 0);
  for (i = 0; i < message_count; ++i) {
    int rc;
    const void* in_place = NULL;
    memset(&info, 0, sizeof info);
    switch (i % 5) {
      case 0: rc = shmring_message_consumer_receive(c, buf, sizeof buf, &info); break;
      case 1:
        while ((rc = shmring_message_consumer_try_receive(c, buf, sizeof buf, &info)) == SHMRING_WOULD_BLOCK) {
        }
        break;
      case 2: rc = shmring_message_consumer_receive_for(c, buf, sizeof buf, INT64_MAX, &info); break;
      case 3:
        /* Too small a buffer first: nothing is consumed, the length needed is told. */
        rc = shmring_message_consumer_receive(c, buf, 0, &info);
        if (rc == SHMRING_BUFFER_TOO_SMALL) rc = shmring_message_consumer_receive(c, buf, info.length, &info);
        break;
      default:
        rc = shmring_message_consumer_read(c, &in_place, &info);
        if (rc == SHMRING_OK) {
          if (!payload_ok((const unsigned char*)in_place, info.length, i)) ++bad;
          rc = shmring_message_consumer_release(c);
        }
    }
    if (rc != SHMRING_OK) {
      ++bad;
      fprintf(stderr, "receive %llu: %d %s\n", (unsigned long long)i, rc, shmring_last_error());
      break;
    }
    if (info.sequence != i || info.type != type_of(i) || info.flags != flags_of(i)) ++bad;
    if (i % 5 != 4 && !payload_ok(buf, info.length, i)) ++bad;
  }
  CHECK(bad == 0);
  CHECK(shmring_message_consumer_receive(c, buf, sizeof buf, &info) == SHMRING_CLOSED);
  CHECK(strstr(shmring_last_error(), "closed") != NULL);
  CHECK(shmring_message_consumer_producer_state(c) == SHMRING_STATE_CLOSED);
  CHECK(shmring_message_consumer_received(c) == message_count);
  CHECK(shmring_message_consumer_status(c, &st) == SHMRING_OK);
  CHECK(st.kind == 2 && st.capacity == 8192 && st.consumer.messages == message_count);
  CHECK(wait_child(child) == 0);
  CHECK(shmring_message_consumer_close(c) == SHMRING_OK);
  CHECK(shmring_message_consumer_receive(c, buf, sizeof buf, &info) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_message_consumer_close(c) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_message_consumer_producer_state(c) == -1);
  shmring_message_consumer_free(c);
}

static void test_typed(const char* self) {
  shmring_consumer* c = NULL;
  record buf[64];
  uint64_t k = 0, bad = 0;
  pid_t child;
  CHECK(shmring_consumer_create(typed_name, &record_element, 64, NULL, &c) == SHMRING_OK);
  if (c == NULL) return;
  CHECK(shmring_consumer_capacity(c) == 64);
  child = spawn_child(self, "typed-producer");
  CHECK(child > 0);
  while (k < record_count) {
    int rc = SHMRING_OK;
    uint64_t n = 0, j;
    switch ((k / 29) % 4) {
      case 0: rc = shmring_consumer_pop(c, &buf[0]); n = 1; break;
      case 1: rc = shmring_consumer_pop_n(c, buf, record_count - k < 64 ? record_count - k : 64, &n); break;
      case 2: rc = shmring_consumer_pop_for(c, &buf[0], INT64_MAX); n = 1; break;
      default: {
        const void* p = NULL;
        while ((rc = shmring_consumer_try_read(c, &p)) == SHMRING_WOULD_BLOCK) {
        }
        if (rc == SHMRING_OK) {
          memcpy(&buf[0], p, sizeof buf[0]);
          rc = shmring_consumer_release(c);
          n = 1;
        }
      }
    }
    if (rc != SHMRING_OK) {
      ++bad;
      fprintf(stderr, "pop %llu: %d %s\n", (unsigned long long)k, rc, shmring_last_error());
      break;
    }
    for (j = 0; j < n; ++j, ++k) {
      const record want = record_of(k);
      if (buf[j].id != want.id || buf[j].value != want.value) ++bad;
    }
  }
  CHECK(bad == 0);
  CHECK(shmring_consumer_pop(c, &buf[0]) == SHMRING_CLOSED);
  CHECK(shmring_consumer_popped(c) == record_count);
  CHECK(wait_child(child) == 0);
  CHECK(shmring_consumer_close(c) == SHMRING_OK);
  shmring_consumer_free(c);
}

static void test_refusals(void) {
  shmring_consumer* c = NULL;
  shmring_producer *p = NULL, *p2 = NULL;
  shmring_message_producer* mp = NULL;
  shmring_status st;
  uint64_t v = 7, n = 0;
  const shmring_element wrong_size = {8, 8, "xlang.record/v1"};
  const shmring_element wrong_align = {16, 4, "xlang.record/v1"};
  const shmring_element wrong_name = {16, 8, "xlang.other/v1"};
  const shmring_element no_name = {16, 8, NULL};
  const shmring_element bad_align = {16, 3, NULL};
  CHECK(shmring_consumer_open(refuse_name, &record_element, NULL, &c) == SHMRING_NOT_FOUND);
  CHECK(c == NULL);
  CHECK(strstr(shmring_last_error(), "not_found") != NULL);
  CHECK(strcmp(shmring_errc_name(SHMRING_PEER_DEAD), "peer_dead") == 0);
  CHECK(strcmp(shmring_errc_name(SHMRING_WOULD_BLOCK), "would_block") == 0);
  CHECK(strcmp(shmring_errc_name(-5), "unknown") == 0);
  CHECK(shmring_consumer_create(refuse_name, &record_element, 8, NULL, &c) == SHMRING_OK);
  CHECK(shmring_producer_open(refuse_name, &wrong_size, NULL, &p) == SHMRING_ELEMENT_MISMATCH);
  CHECK(shmring_producer_open(refuse_name, &wrong_align, NULL, &p) == SHMRING_ELEMENT_MISMATCH);
  CHECK(shmring_producer_open(refuse_name, &wrong_name, NULL, &p) == SHMRING_ELEMENT_MISMATCH);
  CHECK(strstr(shmring_last_error(), "xlang.other/v1") != NULL);
  CHECK(shmring_producer_open(refuse_name, &bad_align, NULL, &p) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_producer_open(refuse_name, NULL, NULL, &p) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_producer_open(NULL, &record_element, NULL, &p) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_producer_open(refuse_name, &record_element, NULL, NULL) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_producer_open(refuse_name, &no_name, NULL, &p) == SHMRING_OK);
  CHECK(shmring_producer_open(refuse_name, &record_element, NULL, &p2) == SHMRING_ALREADY_ATTACHED);
  CHECK(p2 == NULL);
  CHECK(shmring_message_producer_open(refuse_name, 0, NULL, &mp) == SHMRING_KIND_MISMATCH);
  CHECK(shmring_producer_consumer_state(p) == SHMRING_STATE_ALIVE);
  CHECK(shmring_producer_status(p, &st) == SHMRING_OK);
  CHECK(st.kind == 1 && st.element_size == 16 && st.element_align == 8 && strcmp(st.element_type, "xlang.record/v1") == 0);
  CHECK(shmring_producer_try_push(NULL, &v) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_producer_try_push(p, NULL) == SHMRING_INVALID_ARGUMENT);
  CHECK(shmring_consumer_try_pop(c, &v) == SHMRING_WOULD_BLOCK);
  CHECK(shmring_consumer_try_pop_n(c, &v, 1, &n) == SHMRING_WOULD_BLOCK && n == 0);
  CHECK(shmring_consumer_pop_for(c, &v, 1000) == SHMRING_TIMED_OUT);
  {
    record r[9];
    uint64_t j;
    for (j = 0; j < 9; ++j) r[j] = record_of(j);
    CHECK(shmring_producer_try_push_n(p, r, 9, &n) == SHMRING_OK && n == 8); /* capacity 8 */
    CHECK(shmring_producer_try_push(p, &r[8]) == SHMRING_WOULD_BLOCK);
    CHECK(shmring_producer_push_for(p, &r[8], 1000) == SHMRING_TIMED_OUT);
  }
  CHECK(shmring_producer_close(p) == SHMRING_OK);
  CHECK(shmring_producer_push(p, &v) == SHMRING_INVALID_ARGUMENT);
  shmring_producer_free(p);
  shmring_producer_free(NULL);
  shmring_consumer_free(c);
  CHECK(shmring_remove(refuse_name) == SHMRING_OK);
  CHECK(shmring_remove(refuse_name) == SHMRING_NOT_FOUND);
  CHECK(shmring_remove("bad/name") == SHMRING_INVALID_NAME);
}

/* Issue 14: a typed ring created with packed slots (slot_layout), opened by a consumer with the default options
 * (openers accept either format), every value checked, the full ring refused; a slot_layout out of range refused. */
static void test_packed_slots(void) {
  char name[64];
  shmring_options o;
  shmring_producer* p = NULL;
  shmring_consumer* c = NULL;
  record in[9], out[8];
  uint64_t j, n = 0, bad = 0;
  snprintf(name, sizeof name, "test-c-packed-%ld", (long)getpid());
  (void)shmring_remove(name);
  shmring_options_init(&o);
  CHECK(o.slot_layout == SHMRING_SLOTS_TURN);
  o.slot_layout = 7;
  CHECK(shmring_producer_create(name, &record_element, 8, &o, &p) == SHMRING_INVALID_ARGUMENT);
  CHECK(strstr(shmring_last_error(), "slot_layout 7") != NULL);
  o.slot_layout = SHMRING_SLOTS_PACKED;
  CHECK(shmring_producer_create(name, &record_element, 8, &o, &p) == SHMRING_OK);
  CHECK(shmring_consumer_open(name, &record_element, NULL, &c) == SHMRING_OK);
  if (p != NULL && c != NULL) {
    for (j = 0; j < 9; ++j) in[j] = record_of(100 + j);
    CHECK(shmring_producer_try_push_n(p, in, 9, &n) == SHMRING_OK && n == 8); /* capacity 8 */
    CHECK(shmring_producer_try_push(p, &in[8]) == SHMRING_WOULD_BLOCK);
    CHECK(shmring_consumer_pop(c, &out[0]) == SHMRING_OK);
    CHECK(shmring_consumer_try_pop_n(c, &out[1], 7, &n) == SHMRING_OK && n == 7);
    for (j = 0; j < 8; ++j)
      if (out[j].id != in[j].id || out[j].value != in[j].value) ++bad;
    CHECK(bad == 0);
    CHECK(shmring_producer_try_push(p, &in[8]) == SHMRING_OK);
    CHECK(shmring_consumer_try_pop(c, &out[0]) == SHMRING_OK && out[0].id == in[8].id);
  }
  shmring_producer_free(p);
  shmring_consumer_free(c);
  (void)shmring_remove(name);
}

/* Issue 18: a name that begins with '/' is a file-backed ring's path; it flows through the C ABI unchanged. The
 * ring outlives both handles (file rings are persistent) and shmring_remove removes it. */
static void test_file_ring(void) {
  char path[128];
  char buf[64];
  shmring_message_producer* mp = NULL;
  shmring_message_consumer* mc = NULL;
  shmring_message_info info;
  snprintf(path, sizeof path, "/tmp/test-c-file-%ld.ring", (long)getpid());
  (void)shmring_remove(path);
  CHECK(shmring_message_producer_create(path, 4096, NULL, &mp) == SHMRING_OK);
  CHECK(shmring_message_producer_send(mp, "durable", 7, 1, 0) == SHMRING_OK);
  shmring_message_producer_free(mp);
  CHECK(access(path, F_OK) == 0); /* still there with no side attached */
  CHECK(shmring_message_consumer_open(path, 0, NULL, &mc) == SHMRING_OK);
  CHECK(shmring_message_consumer_try_receive(mc, buf, sizeof buf, &info) == SHMRING_OK);
  CHECK(info.length == 7 && memcmp(buf, "durable", 7) == 0);
  shmring_message_consumer_free(mc);
  CHECK(shmring_remove(path) == SHMRING_OK);
  CHECK(access(path, F_OK) != 0);
}

int main(int argc, char** argv) {
  if (argc == 5) { /* a child: role and the three names */
    snprintf(msg_name, sizeof msg_name, "%s", argv[2]);
    snprintf(typed_name, sizeof typed_name, "%s", argv[3]);
    snprintf(refuse_name, sizeof refuse_name, "%s", argv[4]);
    if (strcmp(argv[1], "message-producer") == 0) return message_producer_child();
    if (strcmp(argv[1], "typed-producer") == 0) return typed_producer_child();
    return 2;
  }
  snprintf(msg_name, sizeof msg_name, "test-c-msg-%ld", (long)getpid());
  snprintf(typed_name, sizeof typed_name, "test-c-typed-%ld", (long)getpid());
  snprintf(refuse_name, sizeof refuse_name, "test-c-refuse-%ld", (long)getpid());
  remove_all();
  atexit(remove_all); /* every segment goes, whatever failed */
  test_refusals();
  test_file_ring();
  test_packed_slots();
  test_messages(argv[0]);
  test_typed(argv[0]);
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("all C ABI checks passed\n");
  return 0;
}
