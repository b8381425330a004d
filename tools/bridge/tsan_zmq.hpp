// shmring-bridge and its tests under ThreadSanitizer: libzmq (Debian's, not instrumented) hands message buffers
// between its I/O thread and the caller through its own lock-free pipes, which TSan cannot see, so every frame
// looks like a race. These suppressions drop reports with a libzmq frame (and the interceptors libzmq calls). The
// bridge's own code is single-threaded; shmring's ring code is checked by its own TSan tests. Included once per
// program (it defines the hook TSan looks for).
// May touch: nothing.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define SHMRING_BRIDGE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMRING_BRIDGE_TSAN 1
#endif
#endif

#ifdef SHMRING_BRIDGE_TSAN
extern "C" const char* __tsan_default_suppressions() {
  return "race:libzmq.so\n"
         "called_from_lib:libzmq.so\n"
         "race:libsodium.so\n"  // CURVE: libzmq decrypts frames in place on its I/O thread
         "called_from_lib:libsodium.so\n";
}
#endif
