#pragma once
// A private temporary directory removed at scope exit.

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace pay::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "paytest-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (p == nullptr) abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pay::testing
