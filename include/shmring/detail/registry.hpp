// shmring: this process's live attachments, so that events which concern all of them reach each one: a fork()
// (the child must neither hold nor release the parent's attachments) and a termination signal (the
// termination_guard detaches every ring before the signal takes its course).
// May touch: its own table (process memory, never shared); through the entries, whatever their hooks do.
//
// WHY LOCK-FREE
// The table is walked from a signal handler, which may interrupt any thread at any point, a thread registering or
// deregistering included; a mutex there could deadlock. So the table is an array of atomic pointers in chunks
// that are linked once and never freed: registering claims a null slot with a compare-and-swap (appending a new
// chunk when all are full, the only allocation, never from a handler); deregistering swaps the pointer back to
// null. A handler that visits an entry first swaps its slot to `busy`, so a thread that deregisters the entry
// meanwhile waits until the handler has put it back: an entry is never destroyed while a handler uses it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include <sched.h>

namespace shmring::detail {

/// What the registry can ask of an entry. Implemented by attachment.
class registrant {
 public:
  /// In the child, right after fork(): let go of the inherited attachment without touching the parent's (no
  /// lock released, no slot written, no name removed). Runs single-threaded: only async-signal-safe calls.
  virtual void on_fork_child() noexcept = 0;
  /// From a signal handler: detach (or close) now. Only async-signal-safe calls; never allocates.
  virtual void on_terminate(bool close) noexcept = 0;

 protected:
  registrant() = default;
  registrant(const registrant&) = default;
  registrant& operator=(const registrant&) = default;
  ~registrant() = default;
};

class registry {
 public:
  static constexpr std::size_t chunk_slots = 256;

  /// The process's registry (constructed on first use, never destroyed: handlers may run during exit).
  static registry& instance() noexcept {
    static registry* r = new registry();  // leaked on purpose: a handler may walk it while statics are destroyed
    return *r;
  }

  /// Adds r; returns its slot, or nullptr if no memory was available (r then gets no fork or signal handling).
  std::atomic<registrant*>* add(registrant* r) noexcept {
    chunk* c = &first_;
    for (;;) {
      for (auto& s : c->slots) {
        registrant* expected = nullptr;
        // acq_rel: publishes r's construction to a handler that loads the slot (acquire).
        if (s.compare_exchange_strong(expected, r, std::memory_order_acq_rel)) return &s;
      }
      chunk* next = c->next.load(std::memory_order_acquire);
      if (next == nullptr) {
        chunk* fresh = new (std::nothrow) chunk();
        if (fresh == nullptr) return nullptr;
        // acq_rel: a walker that sees the new chunk (acquire) sees it zeroed; if another thread linked one first,
        // ours is not needed.
        if (c->next.compare_exchange_strong(next, fresh, std::memory_order_acq_rel)) {
          next = fresh;
        } else {
          delete fresh;
        }
      }
      c = next;
    }
  }

  /// Points slot at r instead of old (an attachment moved). Waits while a handler visits the slot.
  static void replace(std::atomic<registrant*>* slot, registrant* old, registrant* r) noexcept {
    if (slot == nullptr) return;
    for (registrant* expected = old;
         !slot->compare_exchange_weak(expected, r, std::memory_order_acq_rel); expected = old)
      ::sched_yield();  // a handler has the slot busy: it restores `old` when done
  }

  /// Removes the entry in slot (it is about to be destroyed). Waits while a handler visits it.
  static void remove(std::atomic<registrant*>* slot, registrant* r) noexcept { replace(slot, r, nullptr); }

  /// Calls f(entry) for every entry, each while its slot is marked busy. From a signal handler or a fork child.
  template <class F>
  void for_each(F&& f) noexcept {
    for (chunk* c = &first_; c != nullptr; c = c->next.load(std::memory_order_acquire)) {
      for (auto& s : c->slots) {
        registrant* r = s.load(std::memory_order_acquire);
        if (r == nullptr || r == busy()) continue;
        // acq_rel: claims the entry against a concurrent remove(); pairs with add()'s release.
        if (!s.compare_exchange_strong(r, busy(), std::memory_order_acq_rel)) continue;
        f(*r);
        s.store(r, std::memory_order_release);  // pairs with the acquire in replace()/remove()
      }
    }
  }

 private:
  struct chunk {
    std::atomic<registrant*> slots[chunk_slots] = {};
    std::atomic<chunk*> next{nullptr};
  };

  static registrant* busy() noexcept {
    static_assert(alignof(registrant) > 1, "the busy marker is an address no registrant can have");
    return reinterpret_cast<registrant*>(std::uintptr_t{1});
  }

  registry() = default;

  chunk first_;
};

}  // namespace shmring::detail
