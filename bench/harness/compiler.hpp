// Harness: the compiler that built the suite, as recorded in the context block of every run (bench_main.cpp's
// suite_compiler, locks_bench.cpp's compiler), so a table never loses which compiler it measured.
// May touch: nothing (a constant).
#pragma once

namespace shmring_bench {

/// "clang <version>" or "gcc <version>"; nullptr for any other compiler (then nothing is recorded).
inline constexpr const char* compiler_version =
#if defined(__clang__)
    "clang " __clang_version__;
#elif defined(__GNUC__)
    "gcc " __VERSION__;
#else
    nullptr;
#endif

}  // namespace shmring_bench
