// shmring: surviving a segment that another process truncates while it is mapped: the process's SIGBUS handler
// and the table of shmring's own mappings that it serves (see docs/faults.md, "Truncation").
// May touch: this process's SIGBUS disposition (installed once, when the first segment is mapped, never removed),
// its own table (process memory, never shared), and, from the handler, the mapping a fault lies in.
//
// Any process of the same user may ftruncate /dev/shm/shmring-N. Every page of a MAP_SHARED mapping past the new
// end of the file is then gone, and the next access to one raises SIGBUS (si_code BUS_ADRERR), whose default
// action kills the process, in the middle of a push, a pop, a futex sleep's re-check or a detach. The handler
// below acts only when si_addr lies inside one of the mappings in this table: it replaces that whole mapping
// with private zero pages (mmap MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, async-signal-safe), lets its owner
// write a few words into them (refill_fn: the attachment makes the wrappers' next publish take its slow path,
// see detail/attachment.hpp), marks the range truncated and returns, so the faulting access completes on the
// zero page. The owner reads the flag on its slow paths only and reports errc::truncated. Every other SIGBUS
// goes to the handler the program had installed before ours (the sanitizers' among them), or, when there was
// none, the default action is restored so that the signal kills the process as it would have.
//
// WHY LOCK-FREE
// The table is read from the handler, which may interrupt any thread anywhere, one adding or removing an entry
// included. It is an array of entries in chunks that are linked once and never freed (as detail/registry.hpp):
// an entry is claimed with a compare-and-swap of its begin word (0 -> claimed), filled, and published with a
// release store of begin; it is freed by storing 0. The handler only loads. The only allocation (a new chunk)
// happens in add(), never in the handler.
#pragma once

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <new>

#include <shmring/detail/signal_chain.hpp>

#include <signal.h>
#include <sys/mman.h>

namespace shmring::detail {

/// Written by the handler into the fresh zero pages of a truncated mapping (at its base) before the faulting
/// access resumes. Async-signal-safe: plain stores into that memory only.
using refill_fn = void (*)(std::byte* base) noexcept;

/// One mapping of a segment, as the SIGBUS handler sees it.
struct mapped_range {
  static constexpr std::uintptr_t free_word = 0;
  static constexpr std::uintptr_t claimed_word = 1;  // being filled by add(): not yet visible to the handler

  std::atomic<std::uintptr_t> begin{free_word};  // the mapping's first byte, or free_word / claimed_word
  std::atomic<std::uintptr_t> end{0};            // one past its last byte
  std::atomic<refill_fn> refill{nullptr};        // the owner's words for the zero pages (on_truncation)
  std::atomic<bool> truncated{false};            // set by the handler once the pages were replaced

  /// Whether the handler replaced this mapping's pages. acquire: pairs with the handler's release store, so the
  /// zero pages and what refill wrote are what this thread reads from now on.
  [[nodiscard]] bool was_truncated() const noexcept { return truncated.load(std::memory_order_acquire); }
};

class mapped_ranges {
 public:
  static constexpr std::size_t chunk_slots = 64;

  /// The process's table (constructed on first use, never destroyed: the handler may run during exit).
  static mapped_ranges& instance() noexcept {
    static mapped_ranges* t = new mapped_ranges();  // leaked on purpose, as the registry
    return *t;
  }

  /// Records [p, p + n) and installs the handler if it is not yet. nullptr if no memory was available (the
  /// mapping then gets no protection: a truncation kills the process as before).
  mapped_range* add(void* p, std::size_t n) noexcept {
    install_handler();
    chunk* c = &first_;
    for (;;) {
      for (auto& r : c->slots) {
        std::uintptr_t expected = mapped_range::free_word;
        // acq_rel: claims the entry; only this thread fills it until begin is published below.
        if (!r.begin.compare_exchange_strong(expected, mapped_range::claimed_word, std::memory_order_acq_rel)) continue;
        r.truncated.store(false, std::memory_order_relaxed);
        r.refill.store(nullptr, std::memory_order_relaxed);
        r.end.store(reinterpret_cast<std::uintptr_t>(p) + n, std::memory_order_relaxed);
        // release: pairs with the handler's acquire load of begin; it sees end, refill and the flag above.
        r.begin.store(reinterpret_cast<std::uintptr_t>(p), std::memory_order_release);
        return &r;
      }
      chunk* next = c->next.load(std::memory_order_acquire);
      if (next == nullptr) {
        chunk* fresh = new (std::nothrow) chunk();
        if (fresh == nullptr) return nullptr;
        // acq_rel: the handler that sees the new chunk (acquire) sees it zeroed; a chunk linked first wins.
        if (c->next.compare_exchange_strong(next, fresh, std::memory_order_acq_rel))
          next = fresh;
        else
          delete fresh;
      }
      c = next;
    }
  }

  /// Forgets an entry before its mapping is unmapped. A fault inside the mapping while another thread unmaps it is
  /// the program's use after unmap, which this cannot make safe.
  static void remove(mapped_range* r) noexcept {
    // release: pairs with add()'s acquire claim; the next owner starts from the cleared entry.
    if (r != nullptr) r->begin.store(mapped_range::free_word, std::memory_order_release);
  }

  /// The entry whose mapping holds address a, or nullptr. Async-signal-safe: loads only (instance() was
  /// constructed by the add() that installed the handler, so the handler never runs its initialiser).
  mapped_range* find(std::uintptr_t a) noexcept {
    for (chunk* c = &first_; c != nullptr; c = c->next.load(std::memory_order_acquire))
      for (auto& r : c->slots) {
        // acquire: pairs with add()'s release store of begin (end is then the one written for it).
        const std::uintptr_t b = r.begin.load(std::memory_order_acquire);
        if (b > mapped_range::claimed_word && a >= b && a < r.end.load(std::memory_order_relaxed)) return &r;
      }
    return nullptr;
  }

 private:
  struct chunk {
    mapped_range slots[chunk_slots];
    std::atomic<chunk*> next{nullptr};
  };

  mapped_ranges() = default;

  static struct sigaction& previous() noexcept {
    static struct sigaction prev{};  // written once, before our handler is installed; read-only afterwards
    return prev;
  }

  /// Once per process, at the first mapping: after the sanitizers (which install theirs before main) and after
  /// whatever the program installed before its first ring, which ours then chains to.
  static void install_handler() noexcept {
    static const bool installed = [] {
      struct sigaction act{};
      act.sa_sigaction = &handler;
      // SA_ONSTACK: a thread that set up an alternate stack (as the sanitizers do) runs us there; we need little
      // stack either way (no stack overflow is a SIGBUS). No SA_NODEFER: a second SIGBUS while we run would be
      // a bug of ours, and the default action then ends the process.
      act.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
      sigemptyset(&act.sa_mask);
      return ::sigaction(SIGBUS, &act, &previous()) == 0;
    }();
    (void)installed;
  }

  /// Replaces the whole mapping of r with private zero pages, lets its owner refill them, marks it truncated.
  /// False when the mmap failed (the fault is then not ours to survive).
  static bool replace(mapped_range& r, std::uintptr_t b) noexcept {
    const std::uintptr_t e = r.end.load(std::memory_order_relaxed);
    void* p = ::mmap(reinterpret_cast<void*>(b), e - b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                     -1, 0);
    if (p == MAP_FAILED) return false;
    if (const refill_fn f = r.refill.load(std::memory_order_acquire); f != nullptr) f(static_cast<std::byte*>(p));
    // release: pairs with was_truncated()'s acquire load; the refilled words are visible to whoever sees the flag.
    r.truncated.store(true, std::memory_order_release);
    return true;
  }

  static void handler(int sig, siginfo_t* info, void* context) {
    const int saved_errno = errno;
    // BUS_ADRERR: an access past the end of a mapped file. Not a signal someone sent (si_code <= 0: si_addr is
    // meaningless then), nor a hardware memory error (BUS_MCEERR_*), nor a misaligned access.
    if (info != nullptr && info->si_code == BUS_ADRERR) {
      const auto a = reinterpret_cast<std::uintptr_t>(info->si_addr);
      if (mapped_range* r = instance().find(a)) {
        const std::uintptr_t b = r->begin.load(std::memory_order_acquire);
        if (b > mapped_range::claimed_word && replace(*r, b)) {
          errno = saved_errno;
          return;  // the access is retried, on the zero page
        }
      }
    }
    errno = saved_errno;
    chain(sig, info, context);
  }

  /// A SIGBUS that is not ours: what the program (or a sanitizer) installed before us decides; otherwise the
  /// process ends the way it would have without shmring (termination_guard does the same for its signals).
  static void chain(int sig, siginfo_t* info, void* context) {
    // (The kernel does not honour "ignore" for a fault either: a fault with no earlier handler ends the process.)
    chain_signal(previous(), sig, info, context, /*may_be_fault=*/true);
  }

  chunk first_;
};

}  // namespace shmring::detail
