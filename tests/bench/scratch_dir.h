#pragma once
// A benchmark's working directory: a fresh subdirectory made under the one the user names
// (`--dir`, default the system's temporary directory) and removed with everything in it when
// the benchmark ends. Only what the benchmark created is removed: `--dir .` or `--dir ~` is a
// parent, never deleted.

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace pay::bench {

class ScratchDir {
 public:
  ScratchDir(const std::string& parent, const std::string& name) {
    std::filesystem::create_directories(parent);
    std::string pattern = parent + "/" + name + ".XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      std::fprintf(stderr, "%s: cannot make a directory under %s\n", name.c_str(), parent.c_str());
      std::exit(1);
    }
    path_ = buf.data();
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pay::bench
