// Test support for file-backed rings: a private directory of this test run (mkdtemp under TMPDIR or /tmp), paths
// in it for rings, and the removal of everything in it however the test ends.
// May touch: the directory it made and the files in it.
#pragma once

#include <shmring/shmring.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace shmring_test {

/// A fresh directory (mode 0700), removed with its contents by the destructor. base: where to make it (default
/// $TMPDIR or /tmp; a disk file system on the CI machine), e.g. "/dev/shm" for a tmpfs.
class temp_dir {
 public:
  explicit temp_dir(std::string base = {}) {
    if (base.empty()) {
      const char* t = std::getenv("TMPDIR");
      base = t != nullptr && *t == '/' ? t : "/tmp";
    }
    std::string tmpl = base + "/shmring-durable-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp(" + tmpl + ") failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// A path for a ring in the directory: "<dir>/<what>-<n>.ring".
  [[nodiscard]] std::string ring(const std::string& what) const {
    static std::atomic<int> counter{0};
    return path_ + "/" + what + "-" + std::to_string(counter.fetch_add(1)) + ".ring";
  }

 private:
  std::string path_;
};

}  // namespace shmring_test
