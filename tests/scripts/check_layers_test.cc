// scripts/check-layers (DESIGN.md §2): the tree passes, and an include that goes up the layer
// table, or reaches into another module's private folder, is caught with its file and line.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/subprocess.h"
#include "support/temp_dir.h"

namespace epos {
namespace {

namespace fs = std::filesystem;
using testing_util::RunProcess;
using testing_util::RunResult;
using testing_util::TempDir;

const fs::path kSource = EPOS_SOURCE_DIR;

RunResult CheckLayers(const fs::path& root) {
  return RunProcess({(kSource / "scripts" / "check-layers").string(), root.string()}, kSource,
                    std::chrono::seconds(60));
}

// A copy of the tree's include/ and src/ to plant includes in.
void CopyTree(const fs::path& to) {
  for (const char* top : {"include", "src"}) {
    fs::copy(kSource / top, to / top, fs::copy_options::recursive);
  }
}

// Inserts `line` as line 2 of `file`.
void Plant(const fs::path& file, const std::string& line) {
  std::ifstream in(file);
  std::string first, rest;
  std::getline(in, first);
  rest.assign(std::istreambuf_iterator<char>(in), {});
  in.close();
  std::ofstream(file) << first << "\n" << line << "\n" << rest;
}

TEST(CheckLayersTest, TreeFollowsTheLayers) {
  RunResult r = CheckLayers(kSource);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("follow DESIGN.md"), std::string::npos) << r.out;
}

TEST(CheckLayersTest, CatchesAnUpwardIncludeWithFileAndLine) {
  TempDir dir("layers");
  ASSERT_FALSE(dir.path().empty());
  CopyTree(dir.path());
  ASSERT_EQ(CheckLayers(dir.path()).exit_code, 0);

  // exec sits below nodes, and spec may not use exec.
  Plant(dir.path() / "src/exec/runtime.cc", "#include \"epos/nodes/control.h\"");
  Plant(dir.path() / "include/epos/spec/scheme.h", "  #  include \"epos/exec/runtime.h\"");
  RunResult r = CheckLayers(dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("src/exec/runtime.cc:2: module \"exec\" includes \"epos/nodes/control.h\" "
                       "(module \"nodes\"); exec may use: graph, core"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("include/epos/spec/scheme.h:2: module \"spec\" includes "
                       "\"epos/exec/runtime.h\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("2 include(s) break the layers"), std::string::npos) << r.err;
}

TEST(CheckLayersTest, CatchesPrivateHeadersOfAnotherFolderAndUnknownModules) {
  TempDir dir("layers");
  ASSERT_FALSE(dir.path().empty());
  CopyTree(dir.path());
  Plant(dir.path() / "src/nodes/standard.cc", "#include \"../exec/trace_internal.h\"");
  Plant(dir.path() / "src/core/value.cc", "#include \"epos/frobs/frob.h\"");
  RunResult r = CheckLayers(dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("src/nodes/standard.cc:2: includes \"../exec/trace_internal.h\", which is "
                       "not in its own folder"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("src/core/value.cc:2: includes \"epos/frobs/frob.h\" of unknown module "
                       "\"frobs\""),
            std::string::npos)
      << r.err;
}

TEST(CheckLayersTest, CommentedIncludesAreNotIncludes) {
  TempDir dir("layers");
  ASSERT_FALSE(dir.path().empty());
  CopyTree(dir.path());
  Plant(dir.path() / "src/core/value.cc", "//   #include \"epos/nodes/control.h\"");
  EXPECT_EQ(CheckLayers(dir.path()).exit_code, 0);
}

}  // namespace
}  // namespace epos
