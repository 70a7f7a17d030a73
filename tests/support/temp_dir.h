// A fresh directory under the system temp dir for one test, removed with everything in it
// when the object goes. path() is empty when it could not be made.
#ifndef EPOS_TESTS_SUPPORT_TEMP_DIR_H_
#define EPOS_TESTS_SUPPORT_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace epos::testing_util {

class TempDir {
 public:
  explicit TempDir(std::string_view tag = "test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("epos-" + std::string(tag) + "-XXXXXX"))
            .string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace epos::testing_util

#endif  // EPOS_TESTS_SUPPORT_TEMP_DIR_H_
